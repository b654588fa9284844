//! config.yaml per node: golden files for each role, and the rules checked on the parsed YAML.

use super::fixture::{net, stack, tokens};
use super::golden;
use crate::component::k3s::config::{
    self, must_match_diff, must_match_from_yaml, parse_extra_args,
};
use crate::component::k3s::roles::{self, NodeRole, CONTROL_PLANE_TAINT};
use crate::component::k3s::{node_config, NodeConfig};
use serde_yaml::Value;

fn configs() -> Vec<(String, NodeRole, NodeConfig)> {
    let s = stack();
    roles::resolve(&s)
        .into_iter()
        .map(|n| {
            let c = node_config(&s, &n, &tokens(), &net(&n.host)).unwrap();
            (n.host, n.role, c)
        })
        .collect()
}

fn parsed(c: &NodeConfig) -> Value {
    serde_yaml::from_str(&c.to_yaml()).unwrap()
}

#[test]
fn golden_config_yaml_per_role() {
    for (host, role, c) in configs() {
        let name = match role {
            NodeRole::FirstServer => "first-server",
            NodeRole::JoiningServer => "joining-server",
            NodeRole::Agent => "agent",
        };
        // node-2 is the joining server whose NIC name differs; node-3 joins the same way.
        if host == "node-3" {
            continue;
        }
        golden(&format!("k3s/config-{name}.yaml"), &c.to_yaml());
    }
}

#[test]
fn tokens_vip_and_init_by_role() {
    let t = tokens();
    let vip_url = "https://192.168.10.50:6443";
    for (host, role, c) in configs() {
        let y = parsed(&c);
        let server = role.is_server();
        assert_eq!(y["node-name"], host.as_str());
        if server {
            assert_eq!(y["token"], t.cluster.as_str(), "{host}");
            assert_eq!(y["agent-token"], t.agent.as_str(), "{host}");
            let sans: Vec<&str> = y["tls-san"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(
                sans,
                ["192.168.10.50", "homelab.home.example.com"],
                "{host}"
            );
            let dis: Vec<&str> = y["disable"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(dis, ["local-storage", "servicelb", "traefik"], "{host}");
            assert_eq!(y["write-kubeconfig-mode"], "0600");
            assert_eq!(y["cluster-cidr"], "10.42.0.0/16");
        } else {
            assert_eq!(
                y["token"],
                t.agent.as_str(),
                "agents join with the agent token"
            );
            for k in [
                "agent-token",
                "tls-san",
                "disable",
                "cluster-cidr",
                "cluster-init",
                "write-kubeconfig-mode",
            ] {
                assert!(y.get(k).is_none(), "{host} has server-only {k}");
            }
        }
        if role == NodeRole::FirstServer {
            assert_eq!(y["cluster-init"], true);
            assert!(y.get("server").is_none());
        } else {
            assert_eq!(y["server"], vip_url, "{host}");
            assert!(y.get("cluster-init").is_none());
        }
        assert_eq!(y["flannel-iface"], super::fixture::iface(&host));
        assert_eq!(y["kube-apiserver-arg"], "audit-log-maxage=30");
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains(&t.cluster) && !dbg.contains(&t.agent),
            "Debug leaks a token: {dbg}"
        );
        let f = c.file();
        assert_eq!(
            (f.path.as_str(), f.mode, f.secret),
            (config::PATH, 0o600, true)
        );
    }
}

#[test]
fn labels_and_taints() {
    let all = configs();
    let get = |h: &str| parsed(&all.iter().find(|(n, _, _)| n == h).unwrap().2);
    let n2 = get("node-2");
    let labels: Vec<&str> = n2["node-label"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "topology.kubernetes.io/zone=rack-a",
            "foundry.dev/vip-interface=enp1s0"
        ]
    );
    let n4 = get("node-4");
    assert_eq!(n4["node-taint"][0], "gpu=true:NoSchedule");
    assert!(
        n4["node-label"].is_null(),
        "agents get no interface label: {n4:?}"
    );

    let mut s = stack();
    s.components.k3s.as_mut().unwrap().server_workloads = false;
    let first = &roles::resolve(&s)[0];
    let y: Value = serde_yaml::from_str(
        &node_config(&s, first, &tokens(), &net("node-1"))
            .unwrap()
            .to_yaml(),
    )
    .unwrap();
    assert_eq!(y["node-taint"][0], CONTROL_PLANE_TAINT);
}

#[test]
fn extra_args_parse_and_managed_keys_are_refused() {
    let m = parse_extra_args(&["--a=1".into(), "--a=2".into(), "--flag".into()]).unwrap();
    assert_eq!(m["a"], serde_yaml::from_str::<Value>("['1', '2']").unwrap());
    assert_eq!(m["flag"], true);
    let e = parse_extra_args(&["--token=x".into()]).unwrap_err();
    assert!(e.contains("foundry manages"), "{e}");
    let e = parse_extra_args(&["cluster-init".into()]).unwrap_err();
    assert!(e.contains("starting with `--`"), "{e}");
}

#[test]
fn must_match_compares_with_defaults_filled_in() {
    let all = configs();
    let desired = all[0].2.must_match();
    assert_eq!(desired["cluster-cidr"], "10.42.0.0/16");
    assert_eq!(desired["service-cidr"], "10.43.0.0/16");
    assert_eq!(desired["disable"], "local-storage,servicelb,traefik");
    // Every server renders the same options.
    for (_, role, c) in &all {
        if role.is_server() {
            assert_eq!(c.must_match(), desired);
        }
    }
    // What the probe prints of a running server's file (keys only, in K3s's own spellings).
    let running = must_match_from_yaml(
        "# present\ncluster-cidr: 10.42.0.0/16\ndisable:\n- traefik\n- servicelb,local-storage\n",
    )
    .unwrap();
    assert_eq!(must_match_diff(&running, &desired), vec![]);
    let running = must_match_from_yaml("cluster-cidr: 10.52.0.0/16\ndisable: [traefik]\n").unwrap();
    let d = must_match_diff(&running, &desired);
    let keys: Vec<&str> = d.iter().map(|x| x.0).collect();
    assert_eq!(keys, ["cluster-cidr", "disable"]);
    assert_eq!(d[0].1, "10.52.0.0/16");
}
