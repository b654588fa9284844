//! The K3s component on four real bed hosts (systemd, sshd), with a real OpenBao (installed by
//! foundry on the first host) holding the tokens and the kubeconfig.
//!
//! THE K3S BINARY IS A STAND-IN and THE KUBERNETES API IS A MOCK (tests/support/k3s_standin.rs,
//! tests/bed/k3s-standin/k3s.rs, tests/support/fake_kube/): no K3s, kube-vip or kube-apiserver
//! can run on this machine. foundry installs the stand-in exactly as the real binary, air-gapped
//! from a bundle directory (upload, checksum, images tarball, its own systemd units, Type=notify
//! start), and the stand-in "joins" a mock cluster that refuses wrong tokens like K3s's
//! supervisor, brings up the VIP on the bed bridge when the first server starts (as kube-vip
//! would), and registers Nodes that become Ready (and etcd voters) a moment later. So this test
//! proves for real: the join order (first server → servers one at a time, each Ready before the
//! next → agents), the files and their modes, the kubeconfig through the VIP, a second run with
//! zero mutating commands and API calls, the token-mismatch refusal before anything is written,
//! and a failure mid-join that a plain re-run completes.
//!
//! Not proven here (no K3s): containerd pulling through Zot, kube-vip's ARP, etcd itself.

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;
#[path = "support/k3s_standin.rs"]
mod k3s_standin;
mod support;

use k3s_standin::{StandinCluster, VERSION};
use std::time::Duration;
use support::stackrun::{
    bao, boot_hosts, foundry, install_expecting_no_changes, kv_field, root_token, sandbox_with,
    INSTANCE,
};
use support::{bed, Sandbox, TestHost};

fn stored(sb: &Sandbox, h: &TestHost, key: &str) -> String {
    kv_field(sb, h, "k3s", key)
}

fn boot(n: usize) -> Vec<TestHost> {
    bed().openbao_image(); // built and pushed to the bed's registry once
    boot_hosts("k3s", n)
}

fn sandbox_for(hosts: &[TestHost], k3s: &StandinCluster) -> Sandbox {
    sandbox_with(
        hosts,
        &k3s_standin::stack_yaml_base("kt", "", hosts, "[openbao, cluster]", k3s),
    )
}

/// Install on 3 servers + 1 agent: join order, files, kubeconfig through the VIP; then a
/// second run changes nothing; then a token in OpenBao that no longer matches the cluster
/// stops the run before any file is written.
#[test]
fn install_joins_in_order_then_reruns_with_no_changes_and_refuses_a_foreign_token() {
    let k3s = StandinCluster::start(k3s_standin::Options {
        vip_idx: 5,
        api_name: "kt.kt.test".into(),
        ready_after: Duration::from_millis(1500),
        version: VERSION.into(),
    });
    let hosts = boot(4);
    let sb = sandbox_for(&hosts, &k3s);
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();

    let plan = foundry(&sb, &["stack", "plan"]);
    plan.ok();
    for want in [
        "K3s roles:",
        "first server (by count), runs workloads",
        "joining server (by count)",
        "agent (by count)",
    ] {
        assert!(plan.stdout.contains(want), "plan shows no {want}:\n{plan}");
    }

    let first = foundry(&sb, &["stack", "install", "--yes"]);
    first.ok();

    // The order: first server, then each joining server only after the previous one was
    // Ready (and an etcd voter), then the agent after every server.
    let joins: Vec<_> = k3s.joins().into_iter().filter(|j| j.accepted).collect();
    let order: Vec<&str> = joins.iter().map(|j| j.node.as_str()).collect();
    assert_eq!(order, names, "join order; joins: {joins:?}");
    for w in joins.windows(2) {
        let ready = w[0]
            .ready_at
            .unwrap_or_else(|| panic!("{} never Ready", w[0].node));
        assert!(
            w[1].at >= ready,
            "{} joined before {} was Ready: {joins:?}",
            w[1].node,
            w[0].node
        );
    }
    assert!(joins[..3].iter().all(|j| j.server) && !joins[3].server);

    // Files, modes, services.
    let (h1, h2, h4) = (&hosts[0], &hosts[1], &hosts[3]);
    assert_eq!(
        h1.ssh_ok("stat -c '%a %U:%G' /etc/rancher/k3s/config.yaml")
            .trim(),
        "600 root:root"
    );
    let c1 = h1.ssh_ok("cat /etc/rancher/k3s/config.yaml");
    assert!(c1.contains("cluster-init: true"), "{c1}");
    assert!(
        c1.contains(&k3s.vip) && c1.contains("kt.kt.test"),
        "tls-san: {c1}"
    );
    let c2 = h2.ssh_ok("cat /etc/rancher/k3s/config.yaml");
    assert!(
        c2.contains(&format!("server: https://{}:6443", k3s.vip)),
        "{c2}"
    );
    assert!(!c2.contains("cluster-init"), "{c2}");
    let token = stored(&sb, h1, "cluster-token");
    let agent_token = stored(&sb, h1, "agent-token");
    assert!(token.len() >= 32 && agent_token.len() >= 32 && token != agent_token);
    assert!(
        c2.contains(&format!("token: {token}")),
        "server token in config.yaml"
    );
    let c4 = h4.ssh_ok("cat /etc/rancher/k3s/config.yaml");
    assert!(c4.contains(&format!("token: {agent_token}")) && !c4.contains(&token));
    assert_eq!(h4.ssh_ok("systemctl is-active k3s-agent").trim(), "active");
    for h in &hosts[..3] {
        assert_eq!(
            h.ssh_ok("systemctl is-active k3s").trim(),
            "active",
            "{}",
            h.name
        );
        h.ssh_ok("test -s /var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar");
    }
    let manifests = h1.ssh_ok("ls /var/lib/rancher/k3s/server/manifests");
    assert!(
        manifests.contains("kube-vip"),
        "kube-vip manifests: {manifests}"
    );
    assert!(
        !first.stdout.contains(&token) && !first.stderr.contains(&token),
        "a token reached the output"
    );
    let log = std::fs::read_to_string(sb.newest_log_counts().path).unwrap();
    assert!(
        !log.contains(&token) && !log.contains(&agent_token),
        "a token reached the run log"
    );

    // The kubeconfig: through the VIP, renamed after the cluster, 0600, also in OpenBao.
    let kc_path = sb.path(".foundry/kt/kubeconfig");
    let kc = std::fs::read_to_string(&kc_path).expect("local kubeconfig");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kc_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        kc.contains(&format!("server: https://{}:6443", k3s.vip)),
        "{kc}"
    );
    assert!(kc.contains("name: kt"), "{kc}");
    assert_eq!(stored(&sb, h1, "kubeconfig"), kc.trim_end());
    let status = foundry(&sb, &["cluster", "status", "-o", "json"]);
    assert_eq!(status.code, 0, "cluster status through the VIP:\n{status}");

    // Second run: nothing to do, nothing mutated, on the hosts or the API.
    let api_before = k3s.fake.mutating_count();
    let joins_before = k3s.joins().len();
    install_expecting_no_changes(&sb);
    assert_eq!(k3s.fake.mutating_count(), api_before);
    assert_eq!(k3s.joins().len(), joins_before, "a service restarted");

    // OpenBao's token no longer matches the running cluster (restored from another backup, a
    // mistyped `secret set`): refused with both fingerprints, before any file is touched.
    bao(
        &sb,
        h1,
        &[
            "kv",
            "patch",
            "-mount=secret",
            &format!("{INSTANCE}/k3s"),
            "cluster-token=someOtherClusterToken0123456789abcdef",
        ],
    );
    let refused = foundry(&sb, &["stack", "install", "--yes"]);
    assert_ne!(refused.code, 0, "{refused}");
    let out = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        out.contains(&hosts[0].name),
        "names the first server: {out}"
    );
    assert!(
        out.matches("sha256:").count() >= 2,
        "both fingerprints: {out}"
    );
    assert!(
        !out.contains("someOtherClusterToken"),
        "the token itself is shown: {out}"
    );
    let c = sb.newest_log_counts();
    assert_eq!(
        c.exec_mutating, 0,
        "wrote despite the mismatch: {:#?}",
        c.mutating_lines
    );
    assert_eq!(
        h2.ssh_ok("grep -c 'someOtherClusterToken' /etc/rancher/k3s/config.yaml || true")
            .trim(),
        "0"
    );
}

/// A joining server fails mid-join (its K3s exits: refused by the cluster): the run stops
/// there, the later server and the agent are not started; a plain re-run completes.
#[test]
fn a_failure_mid_join_stops_the_run_and_a_rerun_completes() {
    let k3s = StandinCluster::start(k3s_standin::Options {
        vip_idx: 6,
        api_name: "kt.kt.test".into(),
        ready_after: Duration::from_millis(300),
        version: VERSION.into(),
    });
    let hosts = boot(4);
    let sb = sandbox_for(&hosts, &k3s);

    // Preflight: something already answers on the VIP before the first install (here: this
    // machine holds it): refused, read-only, naming the VIP and the fix.
    support::bed_sh(&["vip-up", "6"]).unwrap();
    // stack validate --check-hosts runs the same K3s preflight, read-only.
    let checked = foundry(&sb, &["stack", "validate", "--check-hosts"]);
    assert_eq!(checked.code, 4, "{checked}");
    assert!(
        checked
            .stdout
            .contains(&format!("VIP: {} already answers", k3s.vip)),
        "{checked}"
    );
    assert_eq!(sb.newest_log_counts().exec_mutating, 0);
    let taken = foundry(&sb, &["stack", "install", "--yes"]);
    support::bed_sh(&["vip-down", "6"]).unwrap();
    // The hosts' ARP caches still hold the address as REACHABLE for ~30 s (which the preflight
    // rightly counts as "answers"); forget it, as time would.
    for h in &hosts {
        h.ssh_ok(&format!("ip neigh flush to {}", k3s.vip));
    }
    assert_ne!(taken.code, 0, "{taken}");
    assert!(
        taken
            .stderr
            .contains(&format!("VIP: {} already answers", k3s.vip)),
        "{taken}"
    );
    assert!(k3s.joins().is_empty(), "nothing started: {:?}", k3s.joins());

    k3s.fail_next_join(&hosts[1].name);

    let failed = foundry(&sb, &["stack", "install", "--yes"]);
    assert_ne!(failed.code, 0, "{failed}");
    let out = format!("{}{}", failed.stdout, failed.stderr);
    assert!(out.contains(&hosts[1].name), "names the failed host: {out}");
    let accepted = k3s.accepted_nodes();
    assert_eq!(
        accepted,
        vec![hosts[0].name.clone()],
        "only the first server joined: {failed}"
    );
    for h in &hosts[2..] {
        let st = String::from_utf8_lossy(&h.ssh("systemctl is-active k3s k3s-agent").stdout)
            .into_owned();
        assert!(
            st.lines().all(|l| l != "active"),
            "{} was started after the failure: {st}",
            h.name
        );
    }

    // `cluster init` = K3s and what it depends on; it picks up where the failed run stopped.
    let rerun = foundry(&sb, &["cluster", "init", "--yes"]);
    rerun.ok();
    let accepted = k3s.accepted_nodes();
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    assert_eq!(accepted, names, "the re-run joined the rest, in order");
    for h in &hosts[1..3] {
        assert_eq!(h.ssh_ok("systemctl is-active k3s").trim(), "active");
    }
    assert_eq!(
        hosts[3].ssh_ok("systemctl is-active k3s-agent").trim(),
        "active"
    );

    // kubeconfig --merge: another cluster's context is kept, a backup is made, a second merge
    // changes nothing.
    let other = "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://192.0.2.9:6443\nusers:\n- name: other\n  user:\n    token: abc\ncontexts:\n- name: other\n  context:\n    cluster: other\n    user: other\ncurrent-context: other\n";
    sb.write(".kube/config", other);
    let merged = foundry(&sb, &["cluster", "kubeconfig", "--merge"]);
    merged.ok();
    let kube = std::fs::read_to_string(sb.path(".kube/config")).unwrap();
    assert!(
        kube.contains("name: other") && kube.contains("name: kt"),
        "{kube}"
    );
    assert!(kube.contains("current-context: other"), "{kube}");
    assert!(kube.contains(&format!("server: https://{}:6443", k3s.vip)));
    let backups: Vec<_> = std::fs::read_dir(sb.path(".kube"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("foundry-backup"))
        .collect();
    assert_eq!(backups.len(), 1, "one backup");
    assert_eq!(std::fs::read_to_string(backups[0].path()).unwrap(), other);
    let again = foundry(&sb, &["cluster", "kubeconfig", "--merge"]);
    again.ok();
    assert!(again.stdout.contains("up to date"), "{again}");

    // Uninstall: the agent first, then the joining servers one by one, the first server last;
    // everything of K3s gone; a second uninstall has nothing to do.
    let gone = foundry(&sb, &["component", "uninstall", "k3s", "--yes"]);
    gone.ok();
    assert!(
        gone.stdout.contains(&format!(
            "kept in OpenBao: {INSTANCE}/k3s (cluster-token, agent-token, kubeconfig); --purge deletes it"
        )),
        "{gone}"
    );
    let c = sb.newest_log_counts();
    let mut order: Vec<String> = Vec::new();
    for h in c.mutating_hosts {
        if order.last() != Some(&h) {
            order.push(h);
        }
    }
    let want: Vec<String> = [3, 1, 2, 0]
        .iter()
        .map(|&i| hosts[i].name.clone())
        .collect();
    assert_eq!(order, want, "removal order");
    for h in &hosts {
        let left = h.ssh_ok("ls -d /usr/local/bin/k3s /etc/rancher/k3s /var/lib/rancher/k3s /etc/systemd/system/k3s*.service 2>/dev/null | wc -l");
        assert_eq!(left.trim(), "0", "{} still has K3s", h.name);
        let st = String::from_utf8_lossy(&h.ssh("systemctl is-active k3s k3s-agent").stdout)
            .into_owned();
        assert!(st.lines().all(|l| l != "active"), "{}: {st}", h.name);
    }
    let nothing = foundry(&sb, &["component", "uninstall", "k3s", "--yes"]);
    nothing.ok();
    assert_eq!(sb.newest_log_counts().exec_mutating, 0);
    assert!(
        !stored(&sb, &hosts[0], "cluster-token").is_empty(),
        "the tokens stay in OpenBao"
    );

    // --purge: the dry run names what would go and deletes nothing; then the tokens, the stored
    // kubeconfig and ~/.foundry/kt/kubeconfig are gone.
    let local = sb.path(".foundry/kt/kubeconfig");
    assert!(local.exists());
    let plan = foundry(
        &sb,
        &["component", "uninstall", "k3s", "--dry-run", "--purge"],
    );
    plan.ok();
    assert!(
        plan.stdout.contains(&format!(
            "would delete OpenBao {INSTANCE}/k3s (cluster-token, agent-token, kubeconfig)"
        )),
        "{plan}"
    );
    assert!(!stored(&sb, &hosts[0], "cluster-token").is_empty());
    let purged = foundry(&sb, &["component", "uninstall", "k3s", "--yes", "--purge"]);
    purged.ok();
    assert!(
        purged
            .stdout
            .contains(&format!("deleted OpenBao {INSTANCE}/k3s")),
        "{purged}"
    );
    assert!(!local.exists(), "{} left", local.display());
    let gone = std::process::Command::new(bed().bao_binary())
        .args([
            "kv",
            "metadata",
            "get",
            "-mount=secret",
            &format!("{INSTANCE}/k3s"),
        ])
        .env("BAO_ADDR", format!("http://{}:8200", hosts[0].ip))
        .env("BAO_TOKEN", root_token(&sb))
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the tokens are still in OpenBao");
}
