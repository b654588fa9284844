//! Shared set-up of the tests that run foundry over several bed hosts with a real OpenBao:
//! booting hosts in parallel, running foundry with its OpenBao credentials in a file (no
//! desktop keyring on the bed), and the real `bao` CLI against the OpenBao foundry installed.

use super::{bed, LogCounts, Run, Sandbox, TestHost};
use std::process::Command;

/// The instance every bed stack uses (foundry's default).
pub const INSTANCE: &str = "foundry-core";

/// `n` fresh hosts tagged `tag`, booted in parallel, in address order.
pub fn boot_hosts(tag: &str, n: usize) -> Vec<TestHost> {
    let bed = bed();
    let mut hosts: Vec<TestHost> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|_| s.spawn(|| bed.host(tag))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    hosts.sort_by_key(|h| h.idx());
    hosts
}

/// A sandbox that trusts `hosts` and holds `stack` as ~/.foundry/stack.yaml.
pub fn sandbox_with(hosts: &[TestHost], stack: &str) -> Sandbox {
    let sb = Sandbox::new();
    for h in hosts {
        sb.trust(h);
    }
    sb.write(".foundry/stack.yaml", stack);
    sb
}

/// foundry with the OpenBao credentials in a file under the sandbox.
pub fn foundry(sb: &Sandbox, args: &[&str]) -> Run {
    sb.foundry_env(args, &[("FOUNDRY_KEYRING", "file")])
}

/// The root token foundry stored when it initialised OpenBao.
pub fn root_token(sb: &Sandbox) -> String {
    let p = sb.path(&format!(".foundry/openbao/{INSTANCE}.json"));
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).expect("openbao creds file")).unwrap();
    j["root_token"].as_str().unwrap().to_string()
}

/// The real OpenBao CLI against `h`'s OpenBao with the root token; stdout, trimmed.
pub fn bao(sb: &Sandbox, h: &TestHost, args: &[&str]) -> String {
    let out = Command::new(bed().bao_binary())
        .args(args)
        .env("BAO_ADDR", format!("http://{}:8200", h.ip))
        .env("BAO_TOKEN", root_token(sb))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bao {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One field of KV v2 secret `<instance>/<path>`.
pub fn kv_field(sb: &Sandbox, h: &TestHost, path: &str, field: &str) -> String {
    bao(
        sb,
        h,
        &[
            "kv",
            "get",
            "-mount=secret",
            &format!("-field={field}"),
            &format!("{INSTANCE}/{path}"),
        ],
    )
}

/// `stack install --yes` that must change nothing: it reports "No changes." and its run log
/// holds no mutating remote command and no mutating API call. Returns that log's counts.
#[track_caller]
pub fn install_expecting_no_changes(sb: &Sandbox) -> LogCounts {
    let again = foundry(sb, &["stack", "install", "--yes"]);
    again.ok();
    assert!(again.stdout.contains("No changes."), "{again}");
    let c = sb.newest_log_counts();
    assert_eq!(
        c.exec_mutating, 0,
        "mutating commands: {:#?}",
        c.mutating_lines
    );
    assert_eq!(
        c.http_mutating, 0,
        "mutating API calls: {:#?}",
        c.mutating_lines
    );
    c
}
