//! Dependency order: a topological sort of components by `depends_on`, stable (registry order
//! breaks ties), with cycles reported by their path.

use std::collections::BTreeMap;

/// `nodes`: (name, dependencies) in registry order. Returns names in install order.
pub fn topo_order(nodes: &[(&str, Vec<&str>)]) -> Result<Vec<String>, String> {
    let index: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (*n, i))
        .collect();
    for (n, deps) in nodes {
        for d in deps {
            if !index.contains_key(d) {
                return Err(format!(
                    "component `{n}` depends on unknown component `{d}`"
                ));
            }
        }
    }
    // 0 = unvisited, 1 = on the current path, 2 = done
    let mut state = vec![0u8; nodes.len()];
    let mut out = Vec::with_capacity(nodes.len());
    let mut path: Vec<usize> = Vec::new();

    fn visit(
        i: usize,
        nodes: &[(&str, Vec<&str>)],
        index: &BTreeMap<&str, usize>,
        state: &mut [u8],
        path: &mut Vec<usize>,
        out: &mut Vec<String>,
    ) -> Result<(), String> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<&str> = path[start..].iter().map(|&p| nodes[p].0).collect();
                cycle.push(nodes[i].0);
                return Err(format!("dependency cycle: {}", cycle.join(" -> ")));
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for d in &nodes[i].1 {
            visit(index[d], nodes, index, state, path, out)?;
        }
        path.pop();
        state[i] = 2;
        out.push(nodes[i].0.to_string());
        Ok(())
    }

    for i in 0..nodes.len() {
        visit(i, nodes, &index, &mut state, &mut path, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_first_and_ties_keep_registry_order() {
        let nodes = vec![
            ("k3s", vec!["zot", "host-prep"]),
            ("host-prep", vec![]),
            ("zot", vec!["openbao"]),
            ("openbao", vec!["host-prep"]),
        ];
        assert_eq!(
            topo_order(&nodes).unwrap(),
            vec!["host-prep", "openbao", "zot", "k3s"]
        );
    }

    #[test]
    fn independent_components_keep_their_order() {
        let nodes = vec![("a", vec![]), ("b", vec![]), ("c", vec![])];
        assert_eq!(topo_order(&nodes).unwrap(), vec!["a", "b", "c"]);
    }

    #[test]
    fn a_cycle_is_reported_with_its_path() {
        let nodes = vec![("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])];
        assert_eq!(
            topo_order(&nodes).unwrap_err(),
            "dependency cycle: a -> b -> c -> a"
        );
    }

    #[test]
    fn a_self_dependency_is_a_cycle() {
        let nodes = vec![("a", vec!["a"])];
        assert_eq!(topo_order(&nodes).unwrap_err(), "dependency cycle: a -> a");
    }

    #[test]
    fn an_unknown_dependency_is_named() {
        let nodes = vec![("a", vec!["nope"])];
        assert!(topo_order(&nodes)
            .unwrap_err()
            .contains("unknown component `nope`"));
    }
}
