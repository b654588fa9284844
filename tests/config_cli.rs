//! The real `foundry` binary against real files: `stack validate` on the example and on
//! single-field breakages of it, `config init/show/get/set`, and `secret set/get/list` through
//! ~/.foundryvars. Each test runs with a fresh HOME and an otherwise empty environment, so no
//! FOUNDRY_* variable of the developer's shell leaks in.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const EXAMPLE: &str = include_str!("../stack.example.yaml");

struct Env {
    home: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_foundry"));
        c.env_clear()
            .env("HOME", self.home())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(args);
        c.stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn run_with(&self, args: &[&str], vars: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut c = self.cmd(args);
        for (k, v) in vars {
            c.env(k, v);
        }
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Write a stack file under HOME and return its path.
    fn stack(&self, name: &str, text: &str) -> PathBuf {
        let p = self.home().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// 1-based line and column of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
    (line, col)
}

#[test]
fn example_validates_without_findings() {
    let e = Env::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/stack.example.yaml");
    let o = e.run(&["stack", "validate", "--config", example]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!(
            "{example}: k3s: node-1 is first server (pinned), runs workloads\n\
             {example}: k3s: node-2 is joining server (pinned), runs workloads\n\
             {example}: k3s: node-3 is joining server (pinned), runs workloads\n\
             {example}: valid"
        )
    );
    let o = e.run(&["stack", "validate", "--config", example, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["errors"], 0);
    assert_eq!(v["warnings"], 0);
}

/// `stack validate` shows the role each cluster host resolves to: by count for plain `cluster`
/// hosts (counting only those), pinned ones winning.
#[test]
fn validate_shows_the_resolved_k3s_roles() {
    let e = Env::new();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/stack.example.yaml"))
            .unwrap();
    let by_count = example.replace("cluster-control-plane]", "cluster]");
    let f = e.stack("count.yaml", &by_count);
    let o = e.run(&[
        "stack",
        "validate",
        "--config",
        f.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let roles: Vec<(String, String, String)> = v["k3s_roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("host"), s("role"), s("source"))
        })
        .collect();
    let want = |h: &str, r: &str, s: &str| (h.to_string(), r.to_string(), s.to_string());
    assert_eq!(
        roles,
        [
            want("node-1", "first-server", "count"),
            want("node-2", "joining-server", "count"),
            want("node-3", "joining-server", "count"),
        ]
    );

    // node-3 pinned as a worker: the two left are counted as two nodes (server + agent).
    let pinned = by_count.replacen(
        "192.168.10.13\n    roles: [cluster]",
        "192.168.10.13\n    roles: [cluster-worker]",
        1,
    );
    assert_ne!(pinned, by_count, "the example's node-3 changed shape");
    let f = e.stack("pinned.yaml", &pinned);
    let o = e.run(&["stack", "validate", "--config", f.to_str().unwrap()]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("k3s: node-1 is first server (by count), runs workloads\n"),
        "{text}"
    );
    assert!(text.contains("k3s: node-2 is agent (by count)\n"), "{text}");
    assert!(text.contains("k3s: node-3 is agent (pinned)\n"), "{text}");
}

struct Breakage {
    what: &'static str,
    from: &'static str,
    to: &'static str,
    /// Text (in the broken file) whose first character the finding must point at.
    at: &'static str,
    path: &'static str,
    message: &'static str,
    severity: &'static str,
    code: i32,
}

const BREAKAGES: &[Breakage] = &[
    Breakage {
        what: "VIP outside the network",
        from: "vip: 192.168.10.50",
        to: "vip: 192.168.99.50",
        at: "192.168.99.50",
        path: "cluster.vip",
        message: "outside the hosts' network 192.168.10.0/24",
        severity: "error",
        code: 3,
    },
    Breakage {
        what: "VIP equal to a host address",
        from: "vip: 192.168.10.50",
        to: "vip: 192.168.10.12",
        at: "192.168.10.12",
        path: "cluster.vip",
        message: "also the address of host `node-2`",
        severity: "error",
        code: 3,
    },
    Breakage {
        what: "duplicate hostname",
        from: "hostname: node-2",
        to: "hostname: node-1",
        at: "node-1\n    address: 192.168.10.12",
        path: "hosts[1].hostname",
        message: "already used by hosts[0]",
        severity: "error",
        code: 3,
    },
    Breakage {
        what: "unknown role",
        from: "    address: 192.168.10.12\n    roles: [cluster-control-plane]",
        to: "    address: 192.168.10.12\n    roles: [cluster-controlplane]",
        at: "cluster-controlplane",
        path: "hosts[1].roles[0]",
        message: "unknown value `cluster-controlplane`; did you mean `cluster-control-plane`?",
        severity: "error",
        code: 3,
    },
    Breakage {
        what: "typo'd key",
        from: "    address: 192.168.10.13",
        to: "    adress: 192.168.10.13",
        at: "adress",
        path: "hosts[2].adress",
        message: "unknown field `adress`; did you mean `address`?",
        severity: "error",
        code: 3,
    },
    Breakage {
        what: "wrong type for a port",
        from: "    port: 5000",
        to: "    port: five-thousand",
        at: "five-thousand",
        path: "components.zot.port",
        message: "expected a whole number from 0 to 65535",
        severity: "error",
        code: 3,
    },
    Breakage {
        what: "malformed secret reference",
        from: "${secret:truenas:api_key}",
        to: "${secret:truenas/api_key}",
        at: "${secret:truenas/api_key}",
        path: "storage.truenas.api_key",
        message: "there is no `:KEY` after the PATH",
        severity: "error",
        code: 3,
    },
    Breakage {
        what: "even number of control-plane hosts",
        from: "    address: 192.168.10.13\n    roles: [cluster-control-plane]",
        to: "    address: 192.168.10.13\n    roles: [cluster-worker]",
        at: "hosts:\n  - hostname",
        path: "hosts",
        message: "2 hosts have role cluster-control-plane",
        severity: "warning",
        code: 0,
    },
];

#[test]
fn each_single_breakage_is_reported_at_its_place() {
    let e = Env::new();
    for b in BREAKAGES {
        assert!(
            EXAMPLE.contains(b.from),
            "{}: example lacks {:?}",
            b.what,
            b.from
        );
        let broken = EXAMPLE.replacen(b.from, b.to, 1);
        let file = e.stack("broken.yaml", &broken);
        let file_s = file.display().to_string();
        let (line, col) = line_col(
            &broken,
            broken
                .find(b.at)
                .unwrap_or_else(|| panic!("{}: no {:?}", b.what, b.at)),
        );
        let want = format!("{file_s}:{line}:{col}: {}: {}: ", b.severity, b.path);

        let o = e.run(&["stack", "validate", "--config", &file_s]);
        let text = out(&o);
        assert_eq!(o.status.code(), Some(b.code), "{}: {text}", b.what);
        let hit = text
            .lines()
            .find(|l| l.starts_with(&want))
            .unwrap_or_else(|| panic!("{}: no line starting {want:?} in:\n{text}", b.what));
        assert!(hit.contains(b.message), "{}: {hit}", b.what);

        let o = e.run(&["stack", "validate", "--config", &file_s, "-o", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["valid"], b.code == 0, "{}", b.what);
        let f = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == b.path)
            .unwrap_or_else(|| panic!("{}: {v}", b.what));
        assert_eq!(
            (f["line"].as_u64(), f["column"].as_u64()),
            (Some(line as u64), Some(col as u64)),
            "{}",
            b.what
        );
        assert_eq!(f["severity"], b.severity);
    }
}

#[test]
fn missing_stack_file_says_how_to_create_one() {
    let e = Env::new();
    let o = e.run(&["stack", "validate"]);
    assert_eq!(o.status.code(), Some(3));
    let want = format!("no stack file at {}/.foundry/stack.yaml; create one with `foundry config init` or pass --config", e.home().display());
    assert!(out(&o).contains(&want), "{}", out(&o));
}

const INIT: &[&str] = &[
    "config",
    "init",
    "--name",
    "lab",
    "--domain",
    "lab.example.com",
    "--vip",
    "10.0.0.50",
    "--cidr",
    "10.0.0.0/24",
    "--host",
    "node-1=10.0.0.11",
    "--user",
    "admin",
];

#[test]
fn init_writes_a_private_valid_file_and_refuses_to_overwrite() {
    let e = Env::new();
    let o = e.run(&["--yes", "config", "init", "--name", "lab"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("missing --domain, --cidr, --vip, --host"),
        "{}",
        out(&o)
    );

    let o = e.run(INIT);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let path = e.home().join(".foundry/stack.yaml");
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(e.home().join(".foundry"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(
        first.contains("  name: lab\n")
            && first.contains("  - hostname: node-1\n    address: 10.0.0.11\n")
    );
    let o = e.run(&["stack", "validate"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    let mut again: Vec<&str> = INIT.to_vec();
    again[3] = "other";
    let o = e.run(&again);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("already exists; pass --force"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);

    again.push("--force");
    let o = e.run(&again);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("  name: other\n"));
    assert_eq!(
        std::fs::read_to_string(e.home().join(".foundry/stack.yaml.bak")).unwrap(),
        first
    );

    // Values that don't make a valid stack are refused before anything is written.
    let e2 = Env::new();
    let mut bad: Vec<&str> = INIT.to_vec();
    bad[7] = "10.9.0.50";
    let o = e2.run(&bad);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(
        out(&o).contains("cluster.vip: VIP 10.9.0.50 is outside"),
        "{}",
        out(&o)
    );
    assert!(!e2.home().join(".foundry/stack.yaml").exists());
}

#[test]
fn set_keeps_the_rest_of_the_file_byte_for_byte() {
    let e = Env::new();
    let file = e.stack("stack.yaml", EXAMPLE);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let f = file.display().to_string();

    let o = e.run(&[
        "--config",
        &f,
        "config",
        "set",
        "components.k3s.version",
        "v1.33.6+k3s1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        after,
        EXAMPLE.replace("version: v1.33.5+k3s1", "version: v1.33.6+k3s1")
    );
    assert_eq!(
        std::fs::read_to_string(e.home().join("stack.yaml.bak")).unwrap(),
        EXAMPLE
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let o = e.run(&["--config", &f, "config", "get", "components.k3s.version"]);
    assert_eq!(stdout(&o), "v1.33.6+k3s1\n");

    // A missing key is added under its mapping with the mapping's indentation.
    let o = e.run(&["--config", &f, "config", "set", "hosts.1.port", "2222"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let want = after.replace(
        "      topology.kubernetes.io/zone: rack-a\n",
        "      topology.kubernetes.io/zone: rack-a\n    port: 2222\n",
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
    let o = e.run(&["--config", &f, "config", "get", "hosts[1].port"]);
    assert_eq!(stdout(&o), "2222\n");

    // A value the schema rejects is refused and nothing changes.
    let o = e.run(&["--config", &f, "config", "set", "hosts[0].port", "abc"]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("hosts[0].port"), "{}", out(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
    let o = e.run(&[
        "--config",
        &f,
        "config",
        "set",
        "hosts[0].adress",
        "10.0.0.1",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(out(&o).contains("did you mean `address`?"), "{}", out(&o));

    let o = e.run(&["--config", &f, "config", "get", "cluster.vipp"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(out(&o).contains("did you mean `vip`?"), "{}", out(&o));
}

#[test]
fn secrets_round_trip_through_foundryvars() {
    let e = Env::new();
    let o = e.run(&["secret", "set", "truenas", "api_key", "tn-key-0123456789"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(!out(&o).contains("tn-key-0123456789"));
    let o = e.run_with(
        &["secret", "set", "hosts/node-1", "sudo_password", "-"],
        &[],
        Some("sudo-pw-from-stdin\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    let vars = e.home().join(".foundryvars");
    assert_eq!(
        std::fs::metadata(&vars).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(&vars).unwrap(),
        "foundry-core/truenas:api_key=tn-key-0123456789\nfoundry-core/hosts/node-1:sudo_password=sudo-pw-from-stdin\n"
    );
    let o = e.run(&["secret", "get", "truenas", "api_key"]);
    assert_eq!(
        (o.status.code(), stdout(&o)),
        (Some(0), "tn-key-0123456789\n".to_string())
    );
    let o = e.run(&["secret", "get", "hosts/node-1", "sudo_password"]);
    assert_eq!(stdout(&o), "sudo-pw-from-stdin\n");

    // The environment comes first in the chain.
    let o = e.run_with(
        &["secret", "get", "truenas", "api_key"],
        &[(
            "FOUNDRY_SECRET_FOUNDRY_CORE__TRUENAS__API_KEY",
            "from-env-value",
        )],
        None,
    );
    assert_eq!(stdout(&o), "from-env-value\n");
    // Another instance doesn't see these.
    let o = e.run(&["--instance", "other", "secret", "get", "truenas", "api_key"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        out(&o).contains("set FOUNDRY_SECRET_OTHER__TRUENAS__API_KEY"),
        "{}",
        out(&o)
    );

    let o = e.run(&["secret", "list"]);
    let text = out(&o);
    assert!(
        text.contains("truenas") && text.contains("sudo_password"),
        "{text}"
    );
    assert!(
        !text.contains("tn-key-0123456789") && !text.contains("sudo-pw-from-stdin"),
        "{text}"
    );

    let o = e.run(&[
        "secret",
        "generate",
        "zot",
        "admin_password",
        "--length",
        "40",
        "--alphabet",
        "hex",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o2 = e.run(&["secret", "get", "zot", "admin_password"]);
    let generated = stdout(&o2).trim().to_string();
    assert_eq!(generated.len(), 40);
    assert!(generated.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!out(&o).contains(&generated));
    let o = e.run(&["secret", "generate", "zot", "admin_password"]);
    assert_ne!(o.status.code(), Some(0), "generate must not overwrite");
}

#[test]
fn show_never_prints_secret_values() {
    let e = Env::new();
    let o = e.run(&[
        "secret",
        "set",
        "truenas",
        "api_key",
        "resolved-api-key-value",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let text = EXAMPLE.replace(
        "    roles: [openbao, zot, cluster-control-plane]\n",
        "    roles: [openbao, zot, cluster-control-plane]\n    password: literal-host-password\n",
    );
    let file = e.stack("stack.yaml", &text);
    let f = file.display().to_string();
    for fmt in ["table", "json", "yaml"] {
        let o = e.run(&["--config", &f, "config", "show", "-o", fmt]);
        let shown = out(&o);
        assert_eq!(o.status.code(), Some(0), "{shown}");
        assert!(!shown.contains("resolved-api-key-value"), "{fmt}: {shown}");
        assert!(!shown.contains("literal-host-password"), "{fmt}: {shown}");
        assert!(
            shown.contains("${secret:truenas:api_key}"),
            "{fmt}: {shown}"
        );
        assert!(shown.contains("***"), "{fmt}: {shown}");
    }
    // Table mode is the file itself, comments included, with only the literal masked.
    let o = e.run(&["--config", &f, "config", "show"]);
    assert_eq!(
        stdout(&o),
        text.replace("password: literal-host-password", "password: \"***\"")
    );
    let o = e.run(&["--config", &f, "config", "get", "hosts[0].password"]);
    assert_eq!(stdout(&o), "***\n");
    let o = e.run(&["--config", &f, "config", "get", "storage.truenas"]);
    assert!(
        stdout(&o).contains("api_key: ${secret:truenas:api_key}"),
        "{}",
        out(&o)
    );
}

/// Issue 13 item 11: a subcommand's help lists its own options, then the global flags once
/// under their own heading.
#[test]
fn help_lists_global_options_once_under_their_heading() {
    let env = Env::new();
    let o = env.run(&["stack", "validate", "--help"]);
    assert!(o.status.success(), "{}", out(&o));
    let text = stdout(&o);
    assert_eq!(text.matches("Global options:").count(), 1, "{text}");
    assert_eq!(text.matches("--config <PATH>").count(), 1, "{text}");
    let (own, global) = text.split_once("Global options:").unwrap();
    assert!(
        own.contains("--check-hosts") && !own.contains("--config"),
        "{text}"
    );
    assert!(global.contains("--accept-new-host-keys"), "{text}");
}

/// `component uninstall` deletes data: without `--yes` and without a terminal to ask on it is
/// refused (usage error) before any host is contacted: no run log is written.
#[test]
fn uninstall_without_yes_and_without_a_terminal_is_refused() {
    let e = Env::new();
    let cfg = e.stack("stack.yaml", EXAMPLE);
    let cfg = cfg.to_str().unwrap();
    let o = e.run(&["--config", cfg, "component", "uninstall", "k3s"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("`foundry component uninstall k3s --dry-run`")
            && out(&o).contains("--yes"),
        "{}",
        out(&o)
    );
    assert!(
        !e.home().join(".foundry/logs").exists(),
        "a run started before the refusal"
    );
}

/// The example with host N at `localhost` port N: connecting is refused at once, and each
/// address draws the "is a DNS name" warning.
fn unreachable_example() -> String {
    let mut text = EXAMPLE.to_string();
    for n in 1..=3 {
        let from = format!("address: 192.168.10.1{n}\n");
        assert!(text.contains(&from));
        text = text.replace(&from, &format!("address: localhost\n    port: {n}\n"));
    }
    text
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Issue 13 item 10: `component list` needs no stack file (it lists what foundry can install),
/// with one it reads the file alone (no run log: nothing was contacted), and `--status` names
/// each unreachable host with its cause once, exit 4. What foundry creates under ~/.foundry is
/// 0700 (folders) and 0600 (the log).
#[test]
fn component_list_needs_no_stack_and_contacts_hosts_only_with_status() {
    let e = Env::new();
    let o = e.run(&["component", "list"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    for name in [
        "host-prep",
        "openbao",
        "zot",
        "storage",
        "k3s",
        "contour",
        "cert-manager",
    ] {
        assert!(stdout(&o).contains(name), "{name} missing:\n{}", out(&o));
    }
    assert!(stdout(&o).contains("kube-vip"), "{}", out(&o));
    assert!(
        !e.home().join(".foundry").exists(),
        "a listing created ~/.foundry"
    );

    let cfg = e.stack("stack.yaml", &unreachable_example());
    let cfg = cfg.to_str().unwrap();
    let o = e.run(&["--config", cfg, "-o", "json", "component", "list"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let k3s = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "k3s")
        .unwrap();
    assert_eq!(
        k3s["hosts"],
        serde_json::json!(["node-1", "node-2", "node-3"])
    );
    assert!(
        !e.home().join(".foundry/logs").exists(),
        "component list without --status wrote a run log"
    );

    let o = e.run(&["--config", cfg, "component", "list", "--status"]);
    assert_eq!(o.status.code(), Some(4), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    for n in 1..=3 {
        let line = format!("status unknown: node-{n} (localhost:{n})");
        assert_eq!(err.matches(&line).count(), 1, "{line} not once:\n{err}");
    }
    assert!(err.contains("refused"), "{err}");
    assert!(!stdout(&o).contains("?node"), "{}", out(&o));
    assert!(stdout(&o).contains("unknown: node-1"), "{}", out(&o));
    let foundry = e.home().join(".foundry");
    let logs = foundry.join("logs");
    assert_eq!(mode_of(&foundry), 0o700);
    assert_eq!(mode_of(&logs), 0o700);
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode_of(&files[0]), 0o600);
    let log = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        log.contains("\"kind\":\"connect\"") && log.contains("\"event\":\"start\""),
        "{log}"
    );
}

/// Issue 13 item 10: with `-o json` a failure is also a JSON object on stdout (class, exit
/// code, message, details), and the exit code is the same as without it.
#[test]
fn a_failure_under_o_json_is_a_json_object_on_stdout() {
    let e = Env::new();
    let missing = e.home().join("nope.yaml");
    let o = e.run(&[
        "--config",
        missing.to_str().unwrap(),
        "-o",
        "json",
        "stack",
        "plan",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON object");
    assert_eq!(doc["error"]["class"], "config");
    assert_eq!(doc["error"]["exit_code"], 3);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no stack file"),
        "{doc}"
    );

    // An invalid file: one detail per finding, each with its location.
    let bad = EXAMPLE.replacen("hostname: node-2", "hostname: node_2!", 1);
    let cfg = e.stack("bad.yaml", &bad);
    let o = e.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "-o",
        "json",
        "component",
        "list",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON object");
    let details = doc["error"]["details"].as_array().unwrap();
    assert!(
        details
            .iter()
            .any(|d| d.as_str().unwrap().contains("hosts[1].hostname")),
        "{doc}"
    );
    // Without -o json stdout stays empty.
    let o = e.run(&["--config", cfg.to_str().unwrap(), "component", "list"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(o.stdout.is_empty(), "{}", out(&o));
}

/// Issue 13 item 10: `secret set` with the value on argv warns (and `-q` hides the warning);
/// `secret generate` on an existing secret says "exists; use --force", and `--force` replaces.
#[test]
fn secret_set_warns_about_argv_and_generate_needs_force_to_replace() {
    let e = Env::new();
    let o = e.run(&["secret", "set", "app/db", "password", "hunter2hunter2"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("warning: the value came on the command line"),
        "{err}"
    );
    assert!(!err.contains("hunter2hunter2"), "{err}");
    let o = e.run(&[
        "-q",
        "secret",
        "set",
        "app/db",
        "password",
        "hunter2hunter2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(!out(&o).contains("warning"), "{}", out(&o));
    let o = e.run_with(
        &["secret", "set", "app/db", "user", "-"],
        &[],
        Some("app\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(!out(&o).contains("warning"), "{}", out(&o));

    let vars = e.home().join(".foundryvars");
    let o = e.run(&["secret", "generate", "app/db", "token"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let first = std::fs::read_to_string(&vars).unwrap();
    let o = e.run(&["secret", "generate", "app/db", "token"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("exists in") && out(&o).contains("use --force"),
        "{}",
        out(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&vars).unwrap(),
        first,
        "changed without --force"
    );
    let o = e.run(&["secret", "generate", "app/db", "token", "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let second = std::fs::read_to_string(&vars).unwrap();
    let token = |t: &str| {
        t.lines()
            .find(|l| l.contains("app/db:token="))
            .unwrap()
            .to_string()
    };
    assert_ne!(token(&first), token(&second));
    assert_eq!(second.matches("app/db:token=").count(), 1, "{second}");
    assert!(
        second.contains("app/db:password=hunter2hunter2"),
        "{second}"
    );
}

/// Issue 13 item 10: `stack validate --check-hosts` prints the file's warnings once (they were
/// printed by the report and again when the host run loaded the file), and `-q` hides them.
#[test]
fn check_hosts_prints_each_warning_once_and_q_hides_them() {
    let e = Env::new();
    let cfg = e.stack("stack.yaml", &unreachable_example());
    let cfg = cfg.to_str().unwrap();
    let o = e.run(&["--config", cfg, "stack", "validate", "--check-hosts"]);
    assert_eq!(o.status.code(), Some(4), "{}", out(&o));
    let all = out(&o);
    assert_eq!(all.matches("is a DNS name").count(), 3, "{all}");
    assert_eq!(all.matches("host node-1: FAILED").count(), 1, "{all}");
    let o = e.run(&["-q", "--config", cfg, "stack", "validate", "--check-hosts"]);
    assert_eq!(o.status.code(), Some(4), "{}", out(&o));
    assert!(!out(&o).contains("is a DNS name"), "{}", out(&o));
}
