//! host-prep rules, one test each, on probed states built from real probe output lines.

use super::probe::{parse, HostPrepState, PackageManager};
use super::*;
use crate::component::Action;

fn stack() -> StackConfig {
    serde_yaml::from_str(
        "cluster: {name: t, domain: t.lan, vip: 10.0.0.50}\nhosts: [{hostname: a, address: 10.0.0.11, roles: [cluster-control-plane]}]\n",
    )
    .unwrap()
}

/// A host where everything is already as host-prep wants it.
fn converged(stack: &StackConfig) -> HostPrepState {
    let c = &stack.components.host_prep;
    let mut st = HostPrepState {
        package_manager: PackageManager::Apt,
        time_synced: true,
        ..Default::default()
    };
    st.packages_present = c.packages.iter().cloned().collect();
    st.modules_loaded = c.kernel_modules.iter().cloned().collect();
    st.sysctls = c.sysctls.clone();
    st.sysctls_writable = c.sysctls.keys().cloned().collect();
    let m = modules_file(stack);
    st.modules_file = Some(crate::component::files::FileState {
        sha256: m.sha256(),
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
    });
    let s = sysctl_file(stack);
    st.sysctl_file = Some(crate::component::files::FileState {
        sha256: s.sha256(),
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
    });
    st
}

fn scripts(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| match &s.action {
            Action::Exec { script, .. } => script.clone(),
            Action::WriteFile(f) => format!("write {}", f.path),
            Action::Verify { script, .. } => format!("verify {script}"),
            Action::Cannot { reason } => format!("cannot {reason}"),
            Action::Api(a) => format!("api {}", a.describe()),
        })
        .collect()
}

#[test]
fn converged_host_needs_nothing() {
    let s = stack();
    assert!(steps_for(&s, "none", &[], &converged(&s))
        .unwrap()
        .is_empty());
}

#[test]
fn missing_package_is_installed_with_the_hosts_package_manager() {
    let s = stack();
    let mut st = converged(&s);
    st.packages_present.remove("nfs-common");
    let steps = steps_for(&s, "none", &[], &st).unwrap();
    assert_eq!(steps.len(), 1);
    assert!(
        scripts(&steps)[0].contains("apt-get install -y -q --no-install-recommends nfs-common"),
        "{:?}",
        scripts(&steps)
    );
    st.package_manager = PackageManager::Unknown;
    assert!(!steps_for(&s, "none", &[], &st).unwrap()[0].mutates());
}

#[test]
fn swap_is_turned_off_on_a_vm_and_reported_in_a_container() {
    let s = stack();
    let mut st = converged(&s);
    st.swap_active = 1;
    st.fstab_swap_lines = 1;
    let vm = scripts(&steps_for(&s, "kvm", &[], &st).unwrap());
    assert_eq!(vm[0], "swapoff -a");
    assert!(vm[1].starts_with("sed -i.foundry-bak"));
    let ct = steps_for(&s, "systemd-nspawn", &[], &st).unwrap();
    assert!(!ct[0].mutates());
}

#[test]
fn unloaded_module_is_loaded_or_reported() {
    let s = stack();
    let mut st = converged(&s);
    st.modules_loaded.remove("br_netfilter");
    assert_eq!(
        scripts(&steps_for(&s, "none", &[], &st).unwrap()),
        vec!["modprobe br_netfilter"]
    );
    let ct = steps_for(&s, "systemd-nspawn", &[], &st).unwrap();
    assert!(
        matches!(&ct[0].action, Action::Cannot { reason } if reason.contains("modprobe br_netfilter"))
    );
}

#[test]
fn drifted_files_and_sysctls_are_fixed() {
    let s = stack();
    let mut st = converged(&s);
    st.sysctl_file = None;
    st.sysctls.insert("net.ipv4.ip_forward".into(), "0".into());
    let got = scripts(&steps_for(&s, "none", &[], &st).unwrap());
    assert_eq!(
        got,
        vec![
            "write /etc/sysctl.d/90-foundry.conf".to_string(),
            "sysctl -w net.ipv4.ip_forward=1".to_string()
        ]
    );
}

#[test]
fn missing_sysctl_in_container_is_reported_not_attempted() {
    let s = stack();
    let mut st = converged(&s);
    st.sysctls.remove("net.bridge.bridge-nf-call-iptables");
    let steps = steps_for(&s, "systemd-nspawn", &[], &st).unwrap();
    assert_eq!(steps.len(), 1);
    assert!(!steps[0].mutates());
}

#[test]
fn time_sync_enabled_when_available() {
    let s = stack();
    let mut st = converged(&s);
    st.time_synced = false;
    st.timesync_unit_available = Some("systemd-timesyncd".into());
    assert_eq!(
        scripts(&steps_for(&s, "none", &[], &st).unwrap()),
        vec!["systemctl enable --now systemd-timesyncd"]
    );
}

#[test]
fn busy_required_port_fails_the_plan() {
    let mut s = stack();
    s.components.host_prep.required_ports = vec![6443];
    let err = steps_for(&s, "none", &[22, 6443], &converged(&s)).unwrap_err();
    assert!(err.to_string().contains("6443"));
}

#[test]
fn probe_output_is_parsed() {
    let out = "pm=apt\npkg=curl\nswap.active=0\nswap.fstab=2\nmod=overlay\nsysctl net.ipv4.ip_forward 1\nsysctlw net.ipv4.ip_forward\ntime.unit=systemd-timesyncd\n";
    let st = parse(out);
    assert_eq!(st.package_manager, PackageManager::Apt);
    assert!(st.packages_present.contains("curl"));
    assert_eq!(st.fstab_swap_lines, 2);
    assert!(st.modules_loaded.contains("overlay"));
    assert_eq!(st.sysctls["net.ipv4.ip_forward"], "1");
    assert!(st.sysctls_writable.contains("net.ipv4.ip_forward"));
    assert!(!st.time_synced);
    assert_eq!(
        st.timesync_unit_available.as_deref(),
        Some("systemd-timesyncd")
    );
}

#[test]
fn a_line_break_in_a_module_or_sysctl_never_reaches_the_files() {
    for yaml in [
        "kernel_modules: [\"overlay\\nevil\"]",
        "sysctls: {\"net.ipv4.ip_forward\": \"1\\nkernel.x = 1\"}",
    ] {
        let mut s = stack();
        s.components.host_prep = serde_yaml::from_str(yaml).unwrap();
        let e = steps_for(&s, "none", &[22], &converged(&s)).unwrap_err();
        assert!(e.to_string().contains("control character"), "{e}");
    }
}
