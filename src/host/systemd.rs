//! systemd helpers: unit-file quoting, a single read-only probe of a unit's state, and the
//! commands that change it. The decision of *what* to run lives in `component::service`; this
//! file only knows how to ask and how to say it.

use crate::ssh::{quote::quote, Cmd, Remote};
use serde::Serialize;

/// Quote one word for an `ExecStart=` line (systemd's own syntax, not a shell): double quotes,
/// backslash escapes, and `%`/`$` doubled so systemd neither expands specifiers nor variables.
pub fn exec_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c));
    if safe {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Any other control character as a C escape: never raw in a unit file, where a
            // CR or NUL makes systemd reject the unit (and NUL is refused by validation).
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn exec_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| exec_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What systemd says about a unit, read in one round trip.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UnitState {
    /// `LoadState`: loaded / not-found / masked ...
    pub load: String,
    /// `ActiveState`: active / inactive / failed / activating ...
    pub active: String,
    pub sub: String,
    /// `UnitFileState`: enabled / disabled / static / "" when not found.
    pub enabled: String,
    /// Human time since the current state began.
    pub since: String,
    /// Last journal lines, only collected when the unit is failed (for error messages).
    pub journal_tail: Vec<String>,
}

impl UnitState {
    pub fn is_active(&self) -> bool {
        self.active == "active"
    }
    pub fn is_enabled(&self) -> bool {
        self.enabled == "enabled"
    }
    pub fn exists(&self) -> bool {
        self.load == "loaded"
    }
}

/// Shell snippet printing `unit.<key>=<value>` lines for a unit (used inside batched probes).
pub fn probe_script(unit: &str) -> String {
    let u = quote(unit);
    // One systemctl call (and no other program: the prefix is added by the shell); the
    // journal is read only for a failed unit.
    format!(
        "st=$(systemctl show -p LoadState -p ActiveState -p SubState -p UnitFileState -p StateChangeTimestamp {u} 2>/dev/null); \
         printf '%s\\n' \"$st\" | while IFS= read -r l; do printf 'unit.%s\\n' \"$l\"; done; \
         case \"$st\" in *ActiveState=failed*) journalctl -u {u} -n 8 --no-pager -o cat 2>/dev/null | sed 's/^/unit.journal=/';; esac"
    )
}

/// Parse the `unit.*` lines printed by [`probe_script`].
pub fn parse_probe(out: &str) -> UnitState {
    let mut s = UnitState::default();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix("unit.") else {
            continue;
        };
        let Some((k, v)) = rest.split_once('=') else {
            continue;
        };
        match k {
            "LoadState" => s.load = v.to_string(),
            "ActiveState" => s.active = v.to_string(),
            "SubState" => s.sub = v.to_string(),
            "UnitFileState" => s.enabled = v.to_string(),
            "StateChangeTimestamp" => s.since = v.to_string(),
            "journal" => s.journal_tail.push(v.to_string()),
            _ => {}
        }
    }
    s
}

/// Read a unit's state (one read-only round trip).
pub async fn state(session: &dyn Remote, unit: &str) -> anyhow::Result<UnitState> {
    let out = session
        .exec(&Cmd::read(probe_script(unit)).sudo().label("systemd state"))
        .await?;
    Ok(parse_probe(&out.stdout))
}

/// The unit name systemd gives a path (`systemd-escape --path`): `/var/lib/zot` →
/// `var-lib-zot`. Slashes are trimmed and collapsed, `/` becomes `-`, and every byte other
/// than ASCII letters, digits, `:`, `_` and `.` (and a leading `.`) is written `\xNN`.
pub fn escape_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return "-".into();
    }
    let joined = parts.join("/");
    let mut out = String::with_capacity(joined.len());
    for (i, b) in joined.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.') => {
                out.push(b as char)
            }
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The mount unit for a mount point: `/var/lib/zot` → `var-lib-zot.mount` (systemd requires
/// this name for a unit whose `Where=` is that path).
pub fn mount_unit_name(path: &str) -> String {
    format!("{}.mount", escape_path(path))
}

/// `systemctl <verb> <unit>` as a script (the verb is ours, the unit name is quoted).
pub fn systemctl(verb: &str, unit: &str) -> String {
    format!("systemctl {verb} {}", quote(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_a_unit_file_raw() {
        let q = exec_quote("a\rb\u{0}c\td\u{85}e");
        assert_eq!(q, "\"a\\rb\\x00c\\td\\u0085e\"");
        assert!(!q.chars().any(|c| c.is_control()), "{q:?}");
    }

    #[test]
    fn exec_quote_leaves_plain_words_and_escapes_the_rest() {
        assert_eq!(exec_quote("/usr/bin/podman"), "/usr/bin/podman");
        assert_eq!(exec_quote("a b"), "\"a b\"");
        assert_eq!(exec_quote("100%"), "\"100%%\"");
        assert_eq!(exec_quote("$HOME"), "\"$$HOME\"");
        assert_eq!(exec_quote("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(exec_quote(""), "\"\"");
    }

    /// Against systemd's own `systemd-escape --path` (util of the systemd package, on this
    /// machine and on every bed host).
    #[test]
    fn escape_path_matches_systemd_escape() {
        for p in [
            "/var/lib/zot",
            "/srv//registry/",
            "/",
            "/mnt/a b",
            "/opt/zot-data",
            "/.hidden/x",
            "/data/ünï",
            "/x/a.b:c_d",
        ] {
            let want = std::process::Command::new("systemd-escape")
                .args(["--path", p])
                .output()
                .expect("systemd-escape (package systemd) is needed for this test");
            assert!(want.status.success(), "{p}");
            let want = String::from_utf8(want.stdout).unwrap();
            assert_eq!(escape_path(p), want.trim_end(), "{p}");
        }
        assert_eq!(mount_unit_name("/var/lib/zot"), "var-lib-zot.mount");
    }

    #[test]
    fn parse_probe_reads_state_and_journal() {
        let s = parse_probe(
            "unit.LoadState=loaded\nunit.ActiveState=failed\nunit.SubState=failed\nunit.UnitFileState=enabled\nunit.journal=boom\nother=1\n",
        );
        assert!(s.exists() && s.is_enabled() && !s.is_active());
        assert_eq!(s.journal_tail, vec!["boom"]);
    }
}
