//! kube-vip manifests: golden multi-document YAML, and the facts (§2) checked on the parsed
//! documents.

use super::fixture::{iface, stack};
use super::golden;
use crate::component::k3s::kube_vip::{self, CLOUD_PROVIDER_FILE, INTERFACE_LABEL, KUBE_VIP_FILE};
use serde_yaml::Value;

fn ifaces() -> Vec<(String, String)> {
    ["node-1", "node-2", "node-3"]
        .iter()
        .map(|h| (h.to_string(), iface(h).to_string()))
        .collect()
}

fn docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn env(ds: &Value) -> Vec<(String, String)> {
    ds["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap_or("<ref>").to_string(),
            )
        })
        .collect()
}

#[test]
fn golden_manifests() {
    let out = kube_vip::render(&stack(), &ifaces()).unwrap();
    let names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, [KUBE_VIP_FILE, CLOUD_PROVIDER_FILE]);
    golden("k3s/kube-vip.yaml", &out[0].1);
    golden("k3s/kube-vip-cloud-provider.yaml", &out[1].1);
}

#[test]
fn one_daemonset_per_interface_name_with_matching_affinity() {
    let out = kube_vip::render(&stack(), &ifaces()).unwrap();
    let all = docs(&out[0].1);
    let kinds: Vec<&str> = all.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "DaemonSet",
            "DaemonSet"
        ]
    );
    for ds in &all[3..] {
        let name = ds["metadata"]["name"].as_str().unwrap();
        let e = env(ds);
        let get = |k: &str| {
            e.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        let want_if = name.trim_start_matches("kube-vip-");
        assert_eq!(get("vip_interface"), want_if, "{name}");
        assert_eq!(get("address"), "192.168.10.50");
        for (k, v) in [
            ("vip_arp", "true"),
            ("cp_enable", "true"),
            ("svc_enable", "true"),
            ("vip_leaderelection", "true"),
            ("port", "6443"),
        ] {
            assert_eq!(get(k), v, "{name} {k}");
        }
        assert!(
            e.iter().all(|(n, _)| n != "vip_address" && n != "vip_cidr"),
            "deprecated keys: {e:?}"
        );
        let exprs = &ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
            ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
            ["matchExpressions"];
        assert_eq!(exprs[1]["key"], INTERFACE_LABEL);
        assert_eq!(exprs[1]["values"][0], want_if);
        assert_eq!(exprs[0]["key"], "node-role.kubernetes.io/control-plane");
        // The selector must match the pod labels, or the API refuses the DaemonSet.
        let sel = ds["spec"]["selector"]["matchLabels"].as_mapping().unwrap();
        for (k, v) in sel {
            assert_eq!(&ds["spec"]["template"]["metadata"]["labels"][k], v);
        }
        assert_eq!(ds["spec"]["template"]["spec"]["hostNetwork"], true);
        assert_eq!(
            ds["spec"]["template"]["spec"]["serviceAccountName"],
            "kube-vip"
        );
    }
    let cp = docs(&out[1].1);
    let cm = cp.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    assert_eq!(
        (
            cm["metadata"]["name"].as_str(),
            cm["metadata"]["namespace"].as_str()
        ),
        (Some("kubevip"), Some("kube-system"))
    );
    assert_eq!(cm["data"]["range-global"], "192.168.10.200-192.168.10.220");
}

#[test]
fn images_follow_images_registry() {
    let mut s = stack();
    s.images.registry = Some("registry.internal:5000".into());
    let out = kube_vip::render(&s, &ifaces()).unwrap();
    assert!(
        out[0]
            .1
            .contains("image: registry.internal:5000/kube-vip/kube-vip:v1.2.3"),
        "{}",
        out[0].1
    );
    assert!(out[1]
        .1
        .contains("image: registry.internal:5000/kube-vip/kube-vip-cloud-provider:v0.0.12"));
}

#[test]
fn no_lb_range_no_cloud_provider_and_bad_interfaces_refused() {
    let mut s = stack();
    s.network.lb_range = None;
    assert_eq!(kube_vip::render(&s, &ifaces()).unwrap().len(), 1);
    let e = kube_vip::render(&s, &[("node-1".into(), "eth0@if3".into())]).unwrap_err();
    assert!(e.starts_with("node-1: interface `eth0@if3`"), "{e}");
    let e = kube_vip::render(
        &s,
        &[("a".into(), "eth.0".into()), ("b".into(), "eth-0".into())],
    )
    .unwrap_err();
    assert!(e.contains("both give DaemonSet name kube-vip-eth-0"), "{e}");
    s.components.kube_vip.as_mut().unwrap().enabled = false;
    assert!(kube_vip::render(&s, &ifaces()).unwrap().is_empty());
}
