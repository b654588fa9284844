//! Asking a running Zot how it is, over the host's loopback (curl on the host, through the SSH
//! session foundry already has): works for hosts behind a bastion and for a Zot with a private
//! CA, and needs no route from the operator's machine to the registry port.
//!
//! One read-only command per status: readiness, the OCI Distribution API with the stored
//! credentials, with deliberately wrong ones, and the catalog. The password travels on the
//! command's stdin as a curl config line (`-K -`), never on a command line or in the run log.

use super::upstream;
use crate::ssh::{quote::quote, Cmd, Remote};

/// One catalog page: distribution (and registries modelled on it) refuse `n` above 1000, so a
/// bigger registry is reported as "at least" this many.
pub const CATALOG_PAGE: usize = 1000;

/// What the probe found. Status codes are `None` when curl could not connect at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiProbe {
    pub curl_missing: bool,
    pub readyz: Option<u16>,
    pub v2_anonymous: Option<u16>,
    pub v2_admin: Option<u16>,
    pub v2_wrong: Option<u16>,
    pub catalog: Option<Vec<String>>,
}

/// Password of the admin user as a curl config line (`user = "name:password"`), escaped for
/// curl's double-quoted config strings.
fn curl_user_line(user: &str, password: &str) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    format!("user = \"{}:{}\"\n", esc(user), esc(password))
}

/// The probe script. `base` is `http(s)://127.0.0.1:<port>`; `-k` only matters for https on
/// loopback, where the certificate's names cannot match 127.0.0.1 anyway.
pub fn script(base: &str, user: &str, with_creds: bool) -> String {
    let b = quote(base);
    let wrong = quote(&format!("{user}:foundry-deliberately-wrong-password"));
    let mut s = format!(
        "command -v curl >/dev/null 2>&1 || {{ echo curl.missing=1; exit 0; }}\n\
         code() {{ curl -sS -k -o /dev/null -w '%{{http_code}}' --connect-timeout 3 --max-time 10 \"$@\" 2>/dev/null; }}\n\
         printf 'readyz=%s\\n' \"$(code {b}/readyz)\"\n\
         printf 'v2.anonymous=%s\\n' \"$(code {b}/v2/)\"\n\
         printf 'v2.wrong=%s\\n' \"$(code -u {wrong} {b}/v2/)\"\n"
    );
    if with_creds {
        s.push_str(&format!(
            "cfg=$(cat)\n\
             printf 'v2.admin=%s\\n' \"$(printf '%s\\n' \"$cfg\" | code -K - {b}/v2/)\"\n\
             printf 'catalog=%s\\n' \"$(printf '%s\\n' \"$cfg\" | curl -sS -k --connect-timeout 3 --max-time 20 -K - {b}'/v2/_catalog?n={CATALOG_PAGE}' 2>/dev/null | tr -d '\\n')\"\n"
        ));
    }
    s
}

fn code(v: &str) -> Option<u16> {
    v.trim().parse::<u16>().ok().filter(|c| *c != 0)
}

pub fn parse(out: &str) -> ApiProbe {
    let mut p = ApiProbe::default();
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "curl.missing" => p.curl_missing = true,
            "readyz" => p.readyz = code(v),
            "v2.anonymous" => p.v2_anonymous = code(v),
            "v2.admin" => p.v2_admin = code(v),
            "v2.wrong" => p.v2_wrong = code(v),
            "catalog" => {
                p.catalog = serde_json::from_str::<serde_json::Value>(v)
                    .ok()
                    .and_then(|j| {
                        j.get("repositories")?.as_array().map(|a| {
                            a.iter()
                                .filter_map(|r| r.as_str().map(str::to_string))
                                .collect()
                        })
                    })
            }
            _ => {}
        }
    }
    p
}

/// Run the probe on a host. `creds` is (user, password) when the password is known.
pub async fn run(
    session: &dyn Remote,
    base: &str,
    user: &str,
    creds: Option<&str>,
) -> anyhow::Result<ApiProbe> {
    let mut cmd = Cmd::read(script(base, user, creds.is_some())).label("probe zot API");
    if let Some(pw) = creds {
        cmd = cmd.stdin(curl_user_line(user, pw).into_bytes());
    }
    let out = session.exec(&cmd).await?.check("probe zot API")?;
    Ok(parse(&out.stdout))
}

impl ApiProbe {
    /// Is the registry serving? `/readyz` (Zot >= 2.1.6) says so directly; older Zot (and the
    /// test bed's stand-in) have no such route, so fall back to `GET /v2/`: 200, or 401 when
    /// authentication is on, means the API is up.
    pub fn ready(&self) -> (bool, String) {
        match self.readyz {
            Some(200) => (true, "ready (/readyz 200)".into()),
            Some(503) => (false, "not ready (/readyz 503)".into()),
            _ => match self.v2_anonymous {
                Some(200) | Some(401) => (
                    true,
                    format!(
                        "API up (GET /v2/ {}; no /readyz route)",
                        self.v2_anonymous.unwrap_or_default()
                    ),
                ),
                Some(c) => (false, format!("GET /v2/ answered {c}")),
                None => (false, "no answer on the registry port".into()),
            },
        }
    }

    /// The stored credentials are accepted (200) and wrong ones refused (401).
    pub fn auth_ok(&self) -> (bool, String) {
        match (self.v2_admin, self.v2_wrong) {
            (Some(200), Some(401)) => (true, "credentials accepted, wrong ones refused".into()),
            (a, w) => (
                false,
                format!(
                    "authentication check failed: stored credentials -> {}, wrong credentials -> {} (want 200 and 401)",
                    fmt_code(a),
                    fmt_code(w)
                ),
            ),
        }
    }

    /// Repositories per upstream (by the `<upstream>/` prefix the sync destination gives them),
    /// in `upstreams` order, then `local` for everything else (pushed directly).
    pub fn cached(&self, upstreams: &[String]) -> Option<Vec<(String, usize)>> {
        let repos = self.catalog.as_ref()?;
        let mut counts: Vec<(String, usize)> = upstreams.iter().map(|u| (u.clone(), 0)).collect();
        let mut local = 0;
        for r in repos {
            match counts
                .iter_mut()
                .find(|(u, _)| r.starts_with(&format!("{}/", upstream::repo_prefix(u))))
            {
                Some((_, n)) => *n += 1,
                None => local += 1,
            }
        }
        counts.push(("local".into(), local));
        Some(counts)
    }
}

fn fmt_code(c: Option<u16>) -> String {
    c.map(|c| c.to_string())
        .unwrap_or_else(|| "no answer".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_goes_to_stdin_never_into_the_script() {
        let s = script("http://127.0.0.1:5000", "admin", true);
        assert!(!s.contains("hunter2"));
        assert!(s.contains("-K -"));
        let l = curl_user_line("admin", "a\"b\\c");
        assert_eq!(l, "user = \"admin:a\\\"b\\\\c\"\n");
    }

    #[test]
    fn parse_and_judge_a_healthy_zot() {
        let p = parse(
            "readyz=200\nv2.anonymous=200\nv2.wrong=401\nv2.admin=200\ncatalog={\"repositories\":[\"docker.io/library/alpine\",\"ghcr.io/a/b\",\"docker.io/library/busybox\",\"team/app\"]}\n",
        );
        assert!(p.ready().0);
        assert!(p.auth_ok().0);
        let ups: Vec<String> = vec!["docker.io".into(), "ghcr.io".into(), "quay.io".into()];
        let c = p.cached(&ups).unwrap();
        let want: Vec<(String, usize)> = [
            ("docker.io", 2),
            ("ghcr.io", 1),
            ("quay.io", 0),
            ("local", 1),
        ]
        .iter()
        .map(|(u, n)| (u.to_string(), *n))
        .collect();
        assert_eq!(c, want);
    }

    #[test]
    fn falls_back_to_v2_without_readyz_and_flags_bad_auth() {
        let p = parse("readyz=404\nv2.anonymous=401\nv2.wrong=200\nv2.admin=200\n");
        let (ok, why) = p.ready();
        assert!(ok, "{why}");
        assert!(why.contains("no /readyz"));
        assert!(!p.auth_ok().0);
        let down = parse("readyz=000\nv2.anonymous=000\nv2.wrong=000\n");
        assert!(!down.ready().0);
        assert!(parse("curl.missing=1\n").curl_missing);
    }
}
