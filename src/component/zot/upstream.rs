//! The upstream registries Zot caches, and the two names each one has: the URL Zot's sync
//! extension pulls from, and the local path prefix (`destination`) the cached repositories live
//! under. The K3s mirror rewrite (`crate::component::k3s::registries`) uses the same prefix, so both are
//! derived here and nowhere else.

use anyhow::bail;

/// The URL Zot syncs from. Docker Hub's registry API is not served at `docker.io`: upstream's
/// own Docker Hub example (zot `examples/config-docker-compat-sync.json`) uses
/// `https://index.docker.io`, which is also containerd's default endpoint for `docker.io`.
pub fn url(upstream: &str) -> String {
    match upstream {
        "docker.io" => "https://index.docker.io".to_string(),
        other => format!("https://{other}"),
    }
}

/// Where Zot stores what it pulled from `upstream`: `/docker.io/library/alpine` for
/// `docker.io/library/alpine` (sync `content[].destination`, without `stripPrefix`).
pub fn destination(upstream: &str) -> String {
    format!("/{upstream}")
}

/// The repository prefix a client uses to pull a cached image through Zot
/// (`destination` without the leading slash): `docker.io` in `zot:5000/docker.io/library/alpine`.
pub fn repo_prefix(upstream: &str) -> String {
    destination(upstream).trim_start_matches('/').to_string()
}

/// Check `components.zot.upstreams`: registry host names (optionally `:port`), no scheme, no
/// path, no duplicates. Errors name the entry.
pub fn validate(upstreams: &[String]) -> anyhow::Result<()> {
    for (i, u) in upstreams.iter().enumerate() {
        let field = format!("components.zot.upstreams[{i}]");
        if u.is_empty() {
            bail!("{field} is empty: give a registry host name such as `ghcr.io`");
        }
        if u.contains("://") {
            bail!("{field} `{u}`: give the registry host name without a scheme (e.g. `ghcr.io`)");
        }
        let ok = u
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
            && !u.starts_with(['.', '-', ':'])
            && !u.ends_with(['.', '-', ':']);
        if !ok {
            bail!("{field} `{u}` is not a registry host name (letters, digits, `.`, `-`, optional `:port`)");
        }
        if upstreams[..i].iter().any(|p| p == u) {
            bail!("{field} `{u}` is listed twice");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_syncs_from_index_docker_io_others_from_their_host() {
        assert_eq!(url("docker.io"), "https://index.docker.io");
        assert_eq!(url("ghcr.io"), "https://ghcr.io");
        assert_eq!(url("quay.io"), "https://quay.io");
        assert_eq!(url("registry.k8s.io"), "https://registry.k8s.io");
        assert_eq!(destination("quay.io"), "/quay.io");
        assert_eq!(repo_prefix("quay.io"), "quay.io");
    }

    #[test]
    fn validate_names_the_bad_entry() {
        let ok: Vec<String> = vec!["docker.io".into(), "reg.lan:5000".into()];
        validate(&ok).unwrap();
        for (bad, want) in [
            ("https://ghcr.io", "without a scheme"),
            ("ghcr.io/x", "not a registry host name"),
            ("", "is empty"),
        ] {
            let e = validate(&["docker.io".into(), bad.into()])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("components.zot.upstreams[1]") && e.contains(want),
                "{e}"
            );
        }
        let e = validate(&["quay.io".into(), "quay.io".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("listed twice"), "{e}");
    }
}
