//! Where TrueNAS is: `https://HOST[:PORT]` from stack.yaml becomes the WebSocket endpoint
//! `wss://HOST[:PORT]/api/current` and the versions URL `https://HOST[:PORT]/api/versions`.
//! Plain `http://` and `ws://` are refused here, before any connection is made: TrueNAS revokes
//! an API key that is used over an insecure transport.

use super::error::TruenasError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// As written in stack.yaml (for messages).
    pub url: String,
    /// Host name or address (IPv6 without brackets), for TCP and the TLS server name.
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, TruenasError> {
        let bad = |why: &str| TruenasError::BadUrl {
            url: url.to_string(),
            why: why.to_string(),
        };
        let t = url.trim();
        let lower = t.to_ascii_lowercase();
        for plain in ["http://", "ws://"] {
            if lower.starts_with(plain) {
                return Err(TruenasError::InsecureUrl {
                    url: url.to_string(),
                    rest: t[plain.len()..].trim_end_matches('/').to_string(),
                });
            }
        }
        let rest = ["https://", "wss://"]
            .iter()
            .find(|s| lower.starts_with(*s))
            .map(|s| &t[s.len()..])
            .ok_or_else(|| bad("it must start with https://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if !matches!(path, "" | "/" | "/api/current" | "/api/current/") {
            return Err(bad(&format!(
                "unexpected path `{path}`; give the TrueNAS address only"
            )));
        }
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed `[` in the address"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host name"));
        }
        let port = match port {
            None => 443,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(&format!("`{p}` is not a port")))?,
        };
        Ok(Endpoint {
            url: url.to_string(),
            host,
            port,
        })
    }

    fn authority(&self) -> String {
        let h = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            h
        } else {
            format!("{h}:{}", self.port)
        }
    }

    /// `wss://HOST[:PORT]/api/current`
    pub fn websocket(&self) -> String {
        format!("wss://{}/api/current", self.authority())
    }

    /// `https://HOST[:PORT]/api/versions` (unauthenticated)
    pub fn versions(&self) -> String {
        format!("https://{}/api/versions", self.authority())
    }

    /// `https://HOST[:PORT]`: the target name in run-log lines.
    pub fn base(&self) -> String {
        format!("https://{}", self.authority())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_wss_become_the_current_api() {
        let e = Endpoint::parse("https://nas.lab").unwrap();
        assert_eq!(e.websocket(), "wss://nas.lab/api/current");
        assert_eq!(e.versions(), "https://nas.lab/api/versions");
        let e = Endpoint::parse("wss://10.0.0.5:8443/api/current").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("10.0.0.5", 8443));
        assert_eq!(e.websocket(), "wss://10.0.0.5:8443/api/current");
        let e = Endpoint::parse("https://[fd00::5]:444/").unwrap();
        assert_eq!(e.host, "fd00::5");
        assert_eq!(e.versions(), "https://[fd00::5]:444/api/versions");
    }

    #[test]
    fn plain_transports_are_refused_with_the_reason() {
        for u in [
            "http://nas.lab",
            "ws://nas.lab/api/current",
            "HTTP://nas.lab",
        ] {
            let e = Endpoint::parse(u).unwrap_err();
            assert!(matches!(e, TruenasError::InsecureUrl { .. }), "{u}: {e}");
            let m = e.to_string();
            assert!(m.contains("revokes an API key"), "{m}");
            assert!(m.contains("https://nas.lab"), "{m}");
        }
        for u in [
            "nas.lab",
            "https://",
            "https://nas.lab:0",
            "https://nas.lab/ui/",
        ] {
            assert!(
                matches!(Endpoint::parse(u), Err(TruenasError::BadUrl { .. })),
                "{u}"
            );
        }
    }
}
