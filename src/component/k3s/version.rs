//! K3s release versions (`v1.33.5+k3s1`) and the upgrade rules: an upgrade goes forward, and at
//! most one minor version at a time (Kubernetes' version skew policy: the kubelet may not be
//! more than one minor behind the API server it talks to during a rolling upgrade, and K3s's
//! own docs say to upgrade one minor at a time).

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct K3sVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// The `+k3sN` revision of the same Kubernetes patch release.
    pub revision: u32,
}

impl fmt::Display for K3sVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "v{}.{}.{}+k3s{}",
            self.major, self.minor, self.patch, self.revision
        )
    }
}

impl K3sVersion {
    /// `v1.33.5+k3s1` (the release tag; also a Node's `kubeletVersion`).
    pub fn parse(s: &str) -> Option<K3sVersion> {
        let rest = s.trim().strip_prefix('v')?;
        let (k8s, rev) = rest.split_once("+k3s")?;
        let mut it = k8s.split('.');
        let num = |p: Option<&str>| p.filter(|p| !p.is_empty())?.parse::<u32>().ok();
        let v = K3sVersion {
            major: num(it.next())?,
            minor: num(it.next())?,
            patch: num(it.next())?,
            revision: num(Some(rev))?,
        };
        it.next().is_none().then_some(v)
    }

    /// The version in `k3s --version`'s first line (`k3s version v1.33.5+k3s1 (abcdef12)`).
    pub fn from_version_output(line: &str) -> Option<K3sVersion> {
        line.split_whitespace().find_map(K3sVersion::parse)
    }
}

/// What moving a node from `from` to `to` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Same,
    Upgrade,
    /// Refused: K3s cannot go back (etcd and the datastore schema move forward only).
    Downgrade,
    /// Refused: more than one minor version at once.
    SkipsMinor,
}

pub fn change(from: K3sVersion, to: K3sVersion) -> Change {
    match to.cmp(&from) {
        Ordering::Equal => Change::Same,
        Ordering::Less => Change::Downgrade,
        Ordering::Greater if to.major != from.major || to.minor > from.minor + 1 => {
            Change::SkipsMinor
        }
        Ordering::Greater => Change::Upgrade,
    }
}

/// The refusal message for a node, or `None` when the move is allowed.
pub fn refusal(host: &str, from: K3sVersion, to: K3sVersion) -> Option<String> {
    match change(from, to) {
        Change::Same | Change::Upgrade => None,
        Change::Downgrade => Some(format!(
            "{host}: version: K3s {from} runs here and stack.yaml pins {to}, a downgrade; K3s cannot go back (its datastore only moves forward). Fix: set components.k3s.version to {from} or later, or restore an etcd backup taken before the upgrade."
        )),
        Change::SkipsMinor => Some(format!(
            "{host}: version: K3s {from} runs here and stack.yaml pins {to}, more than one minor version ahead; Kubernetes supports upgrading one minor at a time. Fix: upgrade to the latest v{}.{}.x release first (`foundry cluster upgrade --version v{}.{}.N+k3sM`), then on to {to}.",
            from.major, from.minor + 1, from.major, from.minor + 1
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> K3sVersion {
        K3sVersion::parse(s).unwrap()
    }

    #[test]
    fn parses_tags_and_version_output() {
        assert_eq!(
            v("v1.33.5+k3s1"),
            K3sVersion {
                major: 1,
                minor: 33,
                patch: 5,
                revision: 1
            }
        );
        assert_eq!(v("v1.33.5+k3s1").to_string(), "v1.33.5+k3s1");
        assert_eq!(
            K3sVersion::from_version_output("k3s version v1.32.9+k3s2 (1f3a3b0c)"),
            Some(v("v1.32.9+k3s2"))
        );
        for bad in [
            "1.33.5+k3s1",
            "v1.33+k3s1",
            "v1.33.5",
            "v1.33.5+k3s",
            "v1.33.5.1+k3s1",
            "v1..5+k3s1",
            "",
        ] {
            assert_eq!(K3sVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn upgrade_rules() {
        let t = |a: &str, b: &str| change(v(a), v(b));
        assert_eq!(t("v1.33.5+k3s1", "v1.33.5+k3s1"), Change::Same);
        assert_eq!(t("v1.33.5+k3s1", "v1.33.5+k3s2"), Change::Upgrade);
        assert_eq!(t("v1.33.5+k3s1", "v1.33.6+k3s1"), Change::Upgrade);
        assert_eq!(t("v1.32.9+k3s1", "v1.33.0+k3s1"), Change::Upgrade);
        assert_eq!(t("v1.31.9+k3s1", "v1.33.0+k3s1"), Change::SkipsMinor);
        assert_eq!(t("v1.33.5+k3s1", "v2.0.0+k3s1"), Change::SkipsMinor);
        assert_eq!(t("v1.33.5+k3s2", "v1.33.5+k3s1"), Change::Downgrade);
        assert_eq!(t("v1.33.0+k3s1", "v1.32.9+k3s1"), Change::Downgrade);
        // Numeric, not lexical: 1.9 < 1.10.
        assert_eq!(t("v1.9.0+k3s1", "v1.10.0+k3s1"), Change::Upgrade);
    }

    #[test]
    fn refusals_name_the_host_both_versions_and_the_fix() {
        let m = refusal("node-2", v("v1.33.5+k3s1"), v("v1.32.1+k3s1")).unwrap();
        assert!(
            m.starts_with("node-2: version: K3s v1.33.5+k3s1 runs here"),
            "{m}"
        );
        assert!(m.contains("a downgrade"), "{m}");
        let m = refusal("node-1", v("v1.31.2+k3s1"), v("v1.33.5+k3s1")).unwrap();
        assert!(m.contains("v1.32.x"), "{m}");
        assert_eq!(refusal("n", v("v1.31.2+k3s1"), v("v1.32.0+k3s1")), None);
    }
}
