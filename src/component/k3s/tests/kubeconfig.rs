//! The kubeconfig rewrite and merge, on a kubeconfig in the exact shape K3s writes and on a
//! realistic ~/.kube/config with other clusters.

use crate::component::k3s::kubeconfig::{merge, rewrite, MergeError};
use serde_yaml::Value;

/// What K3s v1.33 writes to /etc/rancher/k3s/k3s.yaml (certificate data shortened).
const K3S_YAML: &str = "\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkakNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTTNNdGMyVnkKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENDQVRlZ0F3SUJBZ0lJZGVmYXVsdAotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==
    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUR1ZWZhdWx0Ci0tLS0tRU5EIEVDIFBSSVZBVEUgS0VZLS0tLS0K
  name: default
";

/// A user's config with a kind cluster as current context.
const USER_CONFIG: &str = "\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: a2luZC1jYQ==
    server: https://127.0.0.1:39423
  name: kind-dev
contexts:
- context:
    cluster: kind-dev
    user: kind-dev
    namespace: default
  name: kind-dev
current-context: kind-dev
users:
- name: kind-dev
  user:
    token: kind-token
";

fn y(s: &str) -> Value {
    serde_yaml::from_str(s).unwrap()
}

#[test]
fn rewrite_renames_everything_and_keeps_certificates() {
    let out = y(&rewrite(K3S_YAML, "homelab", "192.168.10.50").unwrap());
    let orig = y(K3S_YAML);
    assert_eq!(out["clusters"][0]["name"], "homelab");
    assert_eq!(
        out["clusters"][0]["cluster"]["server"],
        "https://192.168.10.50:6443"
    );
    assert_eq!(out["users"][0]["name"], "homelab");
    assert_eq!(out["contexts"][0]["name"], "homelab");
    assert_eq!(out["contexts"][0]["context"]["cluster"], "homelab");
    assert_eq!(out["contexts"][0]["context"]["user"], "homelab");
    assert_eq!(out["current-context"], "homelab");
    for (list, inner, key) in [
        ("clusters", "cluster", "certificate-authority-data"),
        ("users", "user", "client-certificate-data"),
        ("users", "user", "client-key-data"),
    ] {
        assert_eq!(out[list][0][inner][key], orig[list][0][inner][key], "{key}");
    }
    let e = rewrite("apiVersion: v1\nclusters: []\n", "homelab", "192.168.10.50").unwrap_err();
    assert!(
        e.contains("0 `clusters` entries") && e.contains("/etc/rancher/k3s/k3s.yaml"),
        "{e}"
    );
}

#[test]
fn merge_keeps_other_contexts_and_the_current_one() {
    let ours = rewrite(K3S_YAML, "homelab", "192.168.10.50").unwrap();
    let merged = y(&merge(USER_CONFIG, &ours, "homelab", false).unwrap());
    let names = |l: &str| -> Vec<String> {
        merged[l]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    for l in ["clusters", "users", "contexts"] {
        assert_eq!(names(l), ["kind-dev", "homelab"], "{l}");
    }
    assert_eq!(merged["current-context"], "kind-dev");
    assert_eq!(merged["users"][0]["user"]["token"], "kind-token");
    assert_eq!(merged["contexts"][0]["context"]["namespace"], "default");
    // Merging again is a no-op.
    let again = merge(
        &serde_yaml::to_string(&merged).unwrap(),
        &ours,
        "homelab",
        false,
    )
    .unwrap();
    assert_eq!(y(&again), merged);
    // Into no file at all: ours becomes the current context.
    let fresh = y(&merge("", &ours, "homelab", false).unwrap());
    assert_eq!(fresh["current-context"], "homelab");
    assert_eq!(fresh["kind"], "Config");
}

#[test]
fn same_name_for_another_server_is_refused_unless_forced() {
    let other = USER_CONFIG.replace("kind-dev", "homelab");
    let ours = rewrite(K3S_YAML, "homelab", "192.168.10.50").unwrap();
    let e = merge(&other, &ours, "homelab", false).unwrap_err();
    assert_eq!(
        e,
        MergeError::Conflict {
            name: "homelab".into(),
            existing_server: "https://127.0.0.1:39423".into(),
            new_server: "https://192.168.10.50:6443".into(),
        }
    );
    assert!(e.message().contains("--force"), "{}", e.message());
    let forced = y(&merge(&other, &ours, "homelab", true).unwrap());
    assert_eq!(forced["clusters"].as_sequence().unwrap().len(), 1);
    assert_eq!(
        forced["clusters"][0]["cluster"]["server"],
        "https://192.168.10.50:6443"
    );
    assert!(matches!(
        merge("- a\n- b\n", &ours, "homelab", false),
        Err(MergeError::Invalid(_))
    ));
}
