//! Plan diffs of datasets and shares: desired from a stack.yaml, live as TrueNAS reports it.

use super::*;
use crate::truenas::datasets::DatasetKind;
use crate::truenas::desired::desired;

const STACK: &str = "\
cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.50}
network: {cidr: 10.0.0.0/24}
hosts:
  - {hostname: n1, address: 10.0.0.11, roles: [openbao]}
storage:
  truenas:
    url: https://nas.lab
    api_key: ${secret:truenas:api_key}
    pool: tank
    datasets:
      - {name: k8s/volumes, csi: volumes, quota: 500GiB, nfs: true, nfs_maproot_user: root, nfs_maproot_group: wheel}
      - {name: k8s/snapshots, csi: snapshots}
      - {name: k8s, compression: lz4}
";

fn want(src: &str) -> Desired {
    let l = crate::config::load::load_str(std::path::Path::new("s.yaml"), src).unwrap();
    let c = l.config;
    desired(&c, c.storage.truenas.as_ref().unwrap()).unwrap()
}

fn ds(id: &str, quota: Option<u64>, compression: &str) -> Dataset {
    Dataset {
        id: id.into(),
        kind: DatasetKind::Filesystem,
        pool: "tank".into(),
        mountpoint: Some(format!("/mnt/{id}")),
        used: Some(98304),
        available: Some(1 << 40),
        quota,
        compression: Some(compression.into()),
        comments: None,
    }
}

fn share(id: i64, path: &str, networks: &[&str]) -> NfsShare {
    NfsShare {
        id,
        path: path.into(),
        comment: String::new(),
        networks: networks.iter().map(|s| s.to_string()).collect(),
        hosts: vec![],
        ro: false,
        maproot_user: Some("root".into()),
        maproot_group: Some("wheel".into()),
        enabled: true,
    }
}

/// What TrueNAS looks like once the stack above has been applied.
fn converged() -> Live {
    Live {
        datasets: vec![
            ds("tank", None, "lz4"),
            ds("tank/k8s", None, "lz4"),
            ds("tank/k8s/volumes", Some(500 << 30), "lz4"),
            ds("tank/k8s/snapshots", None, "lz4"),
        ],
        shares: vec![share(7, "/mnt/tank/k8s/volumes", &["10.0.0.0/24"])],
        nfs: Some(Service {
            id: 3,
            service: "nfs".into(),
            enable: true,
            state: ServiceState::Running,
        }),
    }
}

#[test]
fn an_empty_truenas_gets_datasets_parents_first_then_the_share_then_nfs() {
    let cs = changes(&want(STACK), &Live::default());
    let d: Vec<String> = cs.iter().map(|c| c.describe()).collect();
    assert_eq!(
        d,
        [
            "create dataset tank/k8s",
            "create dataset tank/k8s/volumes",
            "create dataset tank/k8s/snapshots",
            "create NFS share /mnt/tank/k8s/volumes",
            "enable and start the NFS service",
        ]
    );
    let Change::CreateDataset { fields, .. } = &cs[1] else {
        panic!("{cs:?}")
    };
    assert_eq!(fields["quota"], json!(500u64 << 30));
    assert_eq!(fields["create_ancestors"], json!(true));
    let Change::CreateDataset { fields, .. } = &cs[0] else {
        panic!()
    };
    assert_eq!(fields["compression"], json!("LZ4"));
    let Change::CreateShare { fields, .. } = &cs[3] else {
        panic!()
    };
    // networks default to network.cidr
    assert_eq!(fields["networks"], json!(["10.0.0.0/24"]));
    assert_eq!(fields["maproot_user"], json!("root"));
    assert!(
        cs[3].diff().unwrap().contains("+- 10.0.0.0/24"),
        "{}",
        cs[3].diff().unwrap()
    );
}

#[test]
fn a_converged_truenas_needs_nothing() {
    assert_eq!(changes(&want(STACK), &converged()), vec![]);
}

#[test]
fn a_changed_nfs_network_is_one_share_update_with_a_diff() {
    let mut live = converged();
    live.shares[0].networks = vec!["192.168.1.0/24".into()];
    let cs = changes(&want(STACK), &live);
    assert_eq!(cs.len(), 1, "{cs:?}");
    let Change::UpdateShare { id, fields, .. } = &cs[0] else {
        panic!("{cs:?}")
    };
    assert_eq!(*id, 7);
    // Only the field that differs is sent.
    assert_eq!(fields, &json!({"networks": ["10.0.0.0/24"]}));
    let diff = cs[0].diff().unwrap();
    assert!(diff.contains("-- 192.168.1.0/24"), "{diff}");
    assert!(diff.contains("+- 10.0.0.0/24"), "{diff}");
    assert!(!diff.contains("maproot"), "{diff}");
    assert_eq!(
        cs[0].describe(),
        "update NFS share /mnt/tank/k8s/volumes (id 7: networks)"
    );
}

#[test]
fn network_order_and_blank_maproot_are_not_differences() {
    let src = STACK.replace(
        "nfs: true, nfs_maproot_user: root, nfs_maproot_group: wheel}",
        "nfs: true, nfs_networks: [10.0.1.0/24, 10.0.0.0/24]}",
    );
    let mut live = converged();
    live.shares[0].networks = vec!["10.0.0.0/24".into(), "10.0.1.0/24".into()];
    live.shares[0].maproot_user = Some(String::new());
    live.shares[0].maproot_group = None;
    assert_eq!(changes(&want(&src), &live), vec![]);
}

#[test]
fn quota_and_compression_updates_send_only_what_differs() {
    let mut live = converged();
    live.datasets[2].quota = Some(100 << 30);
    live.datasets[1].compression = Some("zstd".into());
    let cs = changes(&want(STACK), &live);
    assert_eq!(cs.len(), 2, "{cs:?}");
    let Change::UpdateDataset { id, fields, .. } = &cs[0] else {
        panic!()
    };
    assert_eq!(
        (id.as_str(), fields),
        ("tank/k8s", &json!({"compression": "LZ4"}))
    );
    let Change::UpdateDataset { fields, .. } = &cs[1] else {
        panic!()
    };
    assert_eq!(fields, &json!({"quota": 500u64 << 30}));
    let diff = cs[1].diff().unwrap();
    assert!(
        diff.contains("-quota: 100 GiB") && diff.contains("+quota: 500 GiB"),
        "{diff}"
    );
}

#[test]
fn unmanaged_fields_datasets_and_shares_are_left_alone() {
    let mut live = converged();
    // Not in stack.yaml: another dataset, another share, a quota on a dataset whose quota
    // stack.yaml does not set.
    live.datasets.push(ds("tank/media", Some(1 << 40), "off"));
    live.datasets[3].quota = Some(5 << 30);
    live.shares.push(share(9, "/mnt/tank/media", &[]));
    assert_eq!(changes(&want(STACK), &live), vec![]);
}

#[test]
fn a_stopped_nfs_service_is_started_and_a_disabled_share_enabled() {
    let mut live = converged();
    live.nfs.as_mut().unwrap().state = ServiceState::Stopped;
    live.shares[0].enabled = false;
    let cs = changes(&want(STACK), &live);
    assert_eq!(
        cs.iter().map(|c| c.describe()).collect::<Vec<_>>(),
        [
            "update NFS share /mnt/tank/k8s/volumes (id 7: enabled)",
            "start the NFS service"
        ]
    );
    assert_eq!(
        cs[1],
        Change::StartNfs {
            enable: false,
            start: true
        }
    );
}
