//! Zot on a TrueNAS NFS share: the mount unit (golden), where it mounts from, the plan for each
//! state a host can be in, the order of `storage` and `zot`, and the validation of the fields.

use super::nfs::{MountState, NfsMount, DEFAULT_OPTIONS};
use super::tests::golden;
use crate::component::files::FileState;
use crate::component::{registry, Action};
use crate::config::StackConfig;
use sha2::{Digest, Sha256};

fn stack(zot_extra: &str, truenas_extra: &str, dataset: &str) -> StackConfig {
    let y = format!(
        "cluster: {{name: lab, domain: lab.example.com, vip: 10.214.0.100}}\n\
         network: {{cidr: 10.214.0.0/24}}\n\
         hosts:\n  - {{hostname: h1, address: 10.214.0.11, roles: [openbao, zot]}}\n\
         components:\n  openbao: {{}}\n  zot: {{storage_dataset: registry{zot_extra}}}\n\
         storage:\n  truenas:\n    url: https://nas.lab.example.com\n    api_key: ${{secret:truenas:api_key}}\n    pool: tank\n{truenas_extra}\
         \x20   datasets:\n      - {dataset}\n"
    );
    serde_yaml::from_str(&y).unwrap()
}

fn default_stack() -> StackConfig {
    stack(
        "",
        "",
        "{name: registry, nfs: true, nfs_maproot_user: root, nfs_maproot_group: root}",
    )
}

fn mount() -> NfsMount {
    NfsMount::for_stack(&default_stack()).unwrap().unwrap()
}

fn file_state(content: &str) -> FileState {
    FileState {
        sha256: hex::encode(Sha256::digest(content.as_bytes())),
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
    }
}

/// A host where the wanted share is mounted by the wanted, enabled unit.
fn in_sync(m: &NfsMount) -> MountState {
    MountState {
        unit_file: Some(file_state(&m.render_unit())),
        active: "active".into(),
        enabled: "enabled".into(),
        source: m.what.clone(),
        fstype: "nfs4".into(),
        helper: true,
        zot_active: true,
        ..Default::default()
    }
}

fn descriptions(steps: &[crate::component::Step]) -> Vec<String> {
    steps.iter().map(|s| s.description.clone()).collect()
}

fn script(s: &crate::component::Step) -> String {
    match &s.action {
        Action::Exec { script, .. } => script.clone(),
        a => panic!("not a command: {a:?}"),
    }
}

#[test]
fn golden_mount_unit() {
    golden("zot/var-lib-zot.mount", &mount().render_unit());
}

#[test]
fn mounts_the_dataset_path_from_the_api_host_or_nfs_server() {
    let m = mount();
    assert_eq!(m.what, "nas.lab.example.com:/mnt/tank/registry");
    assert_eq!(m.mount_point, "/var/lib/zot");
    assert_eq!(m.unit_name(), "var-lib-zot.mount");
    assert_eq!(m.options, DEFAULT_OPTIONS);

    let s = stack(
        ", storage_path: /srv//zot/, storage_mount_options: 'nfsvers=4.1,hard'",
        "    nfs_server: fd00::5\n",
        "{name: registry, nfs: true}",
    );
    let m = NfsMount::for_stack(&s).unwrap().unwrap();
    assert_eq!(m.what, "[fd00::5]:/mnt/tank/registry");
    assert_eq!(m.mount_point, "/srv/zot");
    assert_eq!(m.unit_name(), "srv-zot.mount");
    assert_eq!(m.options, "nfsvers=4.1,hard");
    let unit = m.render_unit();
    assert!(unit.contains("\nWhere=/srv/zot\n") && unit.contains("\nOptions=nfsvers=4.1,hard\n"));
}

#[test]
fn without_storage_dataset_there_is_no_mount_and_a_dataset_without_share_is_an_error() {
    let mut s = default_stack();
    s.components.zot.as_mut().unwrap().storage_dataset = None;
    assert_eq!(NfsMount::for_stack(&s).unwrap(), None);
    let s = stack("", "", "{name: registry}");
    let e = NfsMount::for_stack(&s).unwrap_err();
    assert!(e.contains("nfs: true"), "{e}");
    let s = stack("", "", "{name: other, nfs: true}");
    let e = NfsMount::for_stack(&s).unwrap_err();
    assert!(e.contains("not in storage.truenas.datasets"), "{e}");
}

#[test]
fn a_host_in_sync_gets_no_step() {
    let m = mount();
    assert!(m.plan(&in_sync(&m), None).is_empty());
}

#[test]
fn a_fresh_host_gets_the_unit_then_one_mount_step() {
    let m = mount();
    let st = MountState {
        helper: true,
        ..Default::default()
    };
    let steps = m.plan(&st, None);
    assert_eq!(
        descriptions(&steps),
        [
            "create /etc/systemd/system/var-lib-zot.mount (644 root:root)".to_string(),
            "mount TrueNAS tank/registry (nas.lab.example.com:/mnt/tank/registry) at /var/lib/zot with var-lib-zot.mount".to_string(),
        ]
    );
    let s = script(&steps[1]);
    let reload = s.find("systemctl daemon-reload").expect("daemon-reload");
    let enable = s
        .find("systemctl enable var-lib-zot.mount")
        .expect("enable");
    let restart = s
        .find("systemctl restart var-lib-zot.mount")
        .expect("restart");
    assert!(reload < enable && enable < restart, "{s}");
}

#[test]
fn changed_options_rewrite_the_unit_with_a_diff_and_remount_around_a_stopped_zot() {
    let m = mount();
    let mut old = m.clone();
    old.options = "soft".into();
    let st = MountState {
        unit_file: Some(file_state(&old.render_unit())),
        ..in_sync(&m)
    };
    let steps = m.plan(&st, Some(old.render_unit().as_bytes()));
    assert_eq!(steps.len(), 2, "{:?}", descriptions(&steps));
    let diff = steps[0].diff.as_deref().unwrap();
    assert!(
        diff.contains("-Options=soft") && diff.contains("+Options=hard,noatime"),
        "{diff}"
    );
    assert!(
        steps[1]
            .description
            .starts_with("remount (options changed) TrueNAS tank/registry")
            && steps[1].description.ends_with("; Zot is stopped meanwhile"),
        "{}",
        steps[1].description
    );
    let s = script(&steps[1]);
    let stop = s.find("systemctl stop zot.service").expect("stop zot");
    let restart = s.find("systemctl restart var-lib-zot.mount").unwrap();
    let start = s.rfind("systemctl start zot.service").expect("start zot");
    assert!(stop < restart && restart < start, "{s}");
}

#[test]
fn something_else_mounted_there_is_replaced_and_a_disabled_unit_only_enabled() {
    let m = mount();
    let st = MountState {
        source: "/dev/sdb1".into(),
        ..in_sync(&m)
    };
    let steps = m.plan(&st, None);
    assert_eq!(steps.len(), 1);
    assert!(
        steps[0].description.starts_with("replace the mount"),
        "{:?}",
        steps[0].description
    );

    let st = MountState {
        enabled: "disabled".into(),
        ..in_sync(&m)
    };
    let steps = m.plan(&st, None);
    assert_eq!(
        descriptions(&steps),
        ["enable var-lib-zot.mount (mounted already)"]
    );
    assert_eq!(
        script(&steps[0]).trim(),
        "systemctl enable var-lib-zot.mount"
    );
}

#[test]
fn uninstall_unmounts_and_removes_the_unit_only_when_there() {
    let m = mount();
    let steps = m.uninstall_plan(&in_sync(&m));
    assert_eq!(steps.len(), 1);
    let s = script(&steps[0]);
    assert!(
        s.contains("systemctl disable --now var-lib-zot.mount"),
        "{s}"
    );
    assert!(
        s.contains("rm -f /etc/systemd/system/var-lib-zot.mount"),
        "{s}"
    );
    assert!(m.uninstall_plan(&MountState::default()).is_empty());
}

#[test]
fn probe_output_parses_and_status_says_what_is_wrong() {
    let m = mount();
    let st = MountState::parse(
        "mnt.active=failed\nmnt.enabled=enabled\nmnt.source=\nmnt.fstype=\nmnt.helper=yes\nmnt.zot=inactive\nmnt.local=3\nmnt.journal=mount.nfs: Connection timed out\n",
    );
    assert!(st.helper && !st.zot_active);
    assert_eq!(st.local_entries, Some(3));
    let (ok, why) = st.describe(&m);
    assert!(!ok);
    assert_eq!(
        why,
        "storage /var/lib/zot is not mounted (var-lib-zot.mount failed: mount.nfs: Connection timed out)"
    );
    let (ok, why) = in_sync(&m).describe(&m);
    assert!(ok, "{why}");
}

/// The design's order is OpenBao → Zot → storage; with Zot on a TrueNAS dataset, storage must
/// come before Zot (its dataset and share first).
#[test]
fn storage_comes_before_zot_only_when_zot_lives_on_it() {
    let order = |s: &StackConfig| -> Vec<String> {
        registry::enabled_ordered(s)
            .unwrap()
            .iter()
            .map(|c| c.name().to_string())
            .filter(|n| n == "zot" || n == "storage")
            .collect()
    };
    let s = default_stack();
    assert_eq!(order(&s), ["storage", "zot"]);
    let mut local = s.clone();
    local.components.zot.as_mut().unwrap().storage_dataset = None;
    assert_eq!(order(&local), ["zot", "storage"]);
}
