//! Fields of the Go foundry's stack file that this foundry spells differently: one message each,
//! naming the equivalent, instead of a bare "unknown field".

use super::path::{FieldPath, Seg};

pub const DOC: &str = "docs/configuration.md#coming-from-foundry-go";

/// The explanation for an unknown field at `path`, when it is a Go-foundry field.
pub fn explain(path: &FieldPath) -> Option<String> {
    let keys: Vec<&str> = path
        .0
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.as_str(),
            Seg::Index(_) => "[]",
        })
        .collect();
    let what = match keys.as_slice() {
        ["version"] => "a top-level `version:` is the Go foundry's file format version; this foundry's stack.yaml has none: remove the line".to_string(),
        ["nodes"] | ["cluster", "nodes"] => "`nodes:` is the Go foundry's host list; here hosts are listed at the top level under `hosts:`, each with `hostname`, `address` and `roles:` (e.g. `roles: [cluster-control-plane]`)".to_string(),
        ["components", component, "hosts"] => {
            let role = match *component {
                "openbao" => "openbao",
                "zot" => "zot",
                _ => "cluster-control-plane",
            };
            format!("a component's own `hosts:` list is how the Go foundry placed it; here a component runs on every host whose `roles:` include its role: remove this list and add `{role}` to those hosts' `roles:`")
        }
        _ => return None,
    };
    Some(format!("{what} (see {DOC})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_new_field() {
        let p = FieldPath::parse("components.openbao.hosts").unwrap();
        assert!(explain(&p)
            .unwrap()
            .contains("add `openbao` to those hosts"));
        assert!(explain(&FieldPath::parse("version").unwrap()).is_some());
        assert!(explain(&FieldPath::parse("cluster.nodes").unwrap()).is_some());
        assert!(explain(&FieldPath::parse("cluster.node").unwrap()).is_none());
    }
}
