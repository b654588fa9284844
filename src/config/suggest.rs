//! "Did you mean ...?" for typos in keys, roles and paths.

/// The candidate closest to `input`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    let mut best: Option<(&'a str, f64)> = None;
    for c in candidates {
        let cl = c.to_ascii_lowercase();
        let lev = strsim::levenshtein(&lower, &cl);
        let jw = strsim::jaro_winkler(&lower, &cl);
        // Close by edit distance, by shape (transpositions, shared prefix), or one name inside the
        // other (`control-plane` for `cluster-control-plane`).
        let plausible = lev <= 2.max(cl.len() / 4)
            || jw >= 0.88
            || (lower.len() >= 3 && (cl.contains(&lower) || lower.contains(&cl)));
        if !plausible {
            continue;
        }
        let score = jw - lev as f64 * 0.01;
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

/// `; did you mean `x`?` or nothing.
pub fn hint<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match did_you_mean(input, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let fields = ["hostname", "address", "port", "user", "roles"];
        assert_eq!(did_you_mean("adress", fields), Some("address"));
        assert_eq!(did_you_mean("hostnme", fields), Some("hostname"));
        assert_eq!(did_you_mean("role", fields), Some("roles"));
        assert_eq!(did_you_mean("zzzzzz", fields), None);
        let roles = ["openbao", "zot", "cluster-control-plane", "cluster-worker"];
        assert_eq!(
            did_you_mean("cluster-contol-plane", roles),
            Some("cluster-control-plane")
        );
        assert_eq!(
            did_you_mean("control-plane", roles),
            Some("cluster-control-plane")
        );
        assert_eq!(did_you_mean("worker", roles), Some("cluster-worker"));
        assert_eq!(did_you_mean("vault", roles), None);
    }
}
