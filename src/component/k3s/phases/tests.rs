//! Plan decisions of the K3s phases, from probe output to steps.

use super::files::{blob_step, mkdir_step, online_needed};
use super::preflight::findings_for;
use super::start::{decide, start_steps, token_check, StartDecision};
use super::status_of;
use super::tokens::decide as tokens_decide;
use crate::component::files::FileState;
use crate::component::k3s::preflight::{Finding, Outcome};
use crate::component::k3s::roles::NodeRole;
use crate::component::Action;
use crate::host::systemd::UnitState;

fn unit(active: &str, enabled: &str) -> UnitState {
    UnitState {
        load: "loaded".into(),
        active: active.into(),
        enabled: enabled.into(),
        ..Default::default()
    }
}

#[test]
fn tokens_are_generated_only_when_one_is_missing() {
    assert!(tokens_decide(Some("a".into()), Some("b".into())).is_some());
    assert!(tokens_decide(Some("a".into()), None).is_none());
    assert!(tokens_decide(None, None).is_none());
}

#[test]
fn a_current_active_enabled_service_is_left_alone() {
    assert_eq!(
        decide(&unit("active", "enabled"), false),
        StartDecision::Nothing
    );
    assert!(start_steps("k3s", StartDecision::Nothing).is_empty());
}

#[test]
fn inactive_starts_changed_restarts_disabled_enables() {
    assert_eq!(decide(&unit("inactive", ""), false), StartDecision::Start);
    assert_eq!(
        decide(&unit("failed", "enabled"), true),
        StartDecision::Start
    );
    assert_eq!(
        decide(&unit("active", "enabled"), true),
        StartDecision::Restart
    );
    assert_eq!(
        decide(&unit("active", "disabled"), false),
        StartDecision::Enable
    );
    let s = start_steps("k3s-agent", StartDecision::Restart);
    match &s[0].action {
        Action::Exec { script, .. } => {
            assert!(
                script.contains("systemctl restart k3s-agent.service"),
                "{script}"
            );
            assert!(script.contains("daemon-reload"), "{script}");
        }
        a => panic!("{a:?}"),
    }
    assert!(StartDecision::Start.starts() && !StartDecision::Enable.starts());
}

const CA: &str = "a3f1c2e4b5d6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70";

#[test]
fn token_mismatch_stops_with_both_fingerprints_and_no_token() {
    let file = format!("K10{CA}::server:runningToken123\n");
    assert!(token_check("cp-1", "prod", &file, "runningToken123").is_ok());
    let e = token_check("cp-1", "prod", &file, "storedToken456")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&crate::component::k3s::token::fingerprint(
            "runningToken123"
        )),
        "{e}"
    );
    assert!(
        e.contains(&crate::component::k3s::token::fingerprint("storedToken456")),
        "{e}"
    );
    assert!(
        !e.contains("runningToken123") && !e.contains("storedToken456"),
        "{e}"
    );
    assert!(e.contains("cp-1"), "{e}");
}

#[test]
fn online_install_only_for_another_or_no_version() {
    assert!(online_needed(None, "v1.33.5+k3s1"));
    assert!(online_needed(
        Some("k3s version v1.32.0+k3s1 (abc)"),
        "v1.33.5+k3s1"
    ));
    assert!(!online_needed(
        Some("k3s version v1.33.5+k3s1 (abc)"),
        "v1.33.5+k3s1"
    ));
}

#[test]
fn the_binary_is_uploaded_only_when_its_sha_differs() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("k3s");
    std::fs::write(&p, b"bin").unwrap();
    let same = FileState {
        sha256: "abc123".into(),
        mode: 0o755,
        owner: "root".into(),
        group: "root".into(),
    };
    assert!(
        blob_step("/usr/local/bin/k3s", &p, "abc123", 0o755, Some(&same))
            .unwrap()
            .is_none()
    );
    let s = blob_step("/usr/local/bin/k3s", &p, "fff000", 0o755, Some(&same))
        .unwrap()
        .unwrap();
    assert!(s.description.starts_with("replace"), "{}", s.description);
    assert!(s.diff.is_none());
    let s = blob_step("/usr/local/bin/k3s", &p, "abc123", 0o755, None)
        .unwrap()
        .unwrap();
    match s.action {
        Action::WriteFile(f) => assert_eq!((f.mode, f.content.as_slice()), (0o755, &b"bin"[..])),
        a => panic!("{a:?}"),
    }
    let bad_mode = FileState {
        mode: 0o644,
        ..same
    };
    let s = blob_step("/usr/local/bin/k3s", &p, "abc123", 0o755, Some(&bad_mode))
        .unwrap()
        .unwrap();
    assert!(s.description.starts_with("fix mode"), "{}", s.description);
}

#[test]
fn missing_directories_are_created_in_one_step() {
    assert!(mkdir_step(&[]).is_none());
    let s = mkdir_step(&["/etc/rancher/k3s".into()]).unwrap();
    assert!(matches!(s.action, Action::Exec { ref script, .. } if script.contains("mkdir -p")));
}

#[test]
fn a_host_fails_on_its_own_and_on_stack_findings_only() {
    let o = Outcome {
        findings: vec![
            Finding::SwapOn {
                host: "a".into(),
                devices: "/swap".into(),
            },
            Finding::VipInvalid { vip: "x".into() },
            Finding::SwapOn {
                host: "b".into(),
                devices: "/swap".into(),
            },
        ],
        server_interfaces: vec![],
    };
    assert_eq!(findings_for(&o, "a").len(), 2);
    assert_eq!(findings_for(&o, "c").len(), 1);
}

#[test]
fn status_says_role_and_unit_state() {
    let s = status_of(
        NodeRole::Agent,
        "k3s-agent",
        true,
        &unit("active", "enabled"),
        Some("v1".into()),
    );
    assert!(s.healthy && s.installed && s.message.contains("agent"));
    let s = status_of(
        NodeRole::FirstServer,
        "k3s",
        true,
        &unit("failed", "enabled"),
        None,
    );
    assert!(!s.healthy && s.message.contains("failed"), "{}", s.message);
    let s = status_of(
        NodeRole::FirstServer,
        "k3s",
        false,
        &UnitState::default(),
        Some("v1".into()),
    );
    assert!(!s.installed && s.version.is_none());
}
