//! Every component foundry knows, and the install order of the enabled ones.

use super::order::topo_order;
use super::{host_prep::HostPrep, openbao::Openbao, services::UserService, zot::Zot, Component};
use crate::config::StackConfig;
use std::sync::Arc;

/// The components foundry itself brings, in registry order (no stack needed).
pub fn builtin() -> Vec<Arc<dyn Component>> {
    vec![
        Arc::new(HostPrep),
        Arc::new(Openbao),
        Arc::new(Zot::new()),
        Arc::new(super::storage::Storage),
        Arc::new(super::k3s::K3s),
        Arc::new(super::contour::Contour),
        Arc::new(super::cert_manager::CertManager),
    ]
}

/// All components in registry order (the tie-break of the dependency sort): the built-in
/// ones, then the stack's own `services:`.
pub fn all(stack: &StackConfig) -> Vec<Arc<dyn Component>> {
    let mut v = builtin();
    for s in UserService::all(stack) {
        v.push(Arc::new(s));
    }
    v
}

/// Components in dependency order (all of them; callers filter on `enabled`).
pub fn ordered(stack: &StackConfig) -> anyhow::Result<Vec<Arc<dyn Component>>> {
    in_order(all(stack), Some(stack))
}

/// The built-in components in dependency order (`component list` without a stack file).
pub fn builtin_ordered() -> anyhow::Result<Vec<Arc<dyn Component>>> {
    in_order(builtin(), None)
}

/// The dependencies of `c`: for `stack` when there is one.
fn deps_of(c: &dyn Component, stack: Option<&StackConfig>) -> Vec<&'static str> {
    match stack {
        Some(s) => c.depends_on_for(s),
        None => c.depends_on().to_vec(),
    }
}

fn in_order(
    comps: Vec<Arc<dyn Component>>,
    stack: Option<&StackConfig>,
) -> anyhow::Result<Vec<Arc<dyn Component>>> {
    let nodes: Vec<(&str, Vec<&str>)> = comps
        .iter()
        .map(|c| (c.name(), deps_of(c.as_ref(), stack)))
        .collect();
    let order =
        topo_order(&nodes).map_err(|e| crate::error::fail(crate::error::ExitClass::Config, e))?;
    Ok(order
        .iter()
        .filter_map(|n| comps.iter().find(|c| c.name() == n).cloned())
        .collect())
}

/// The enabled components in install order.
pub fn enabled_ordered(stack: &StackConfig) -> anyhow::Result<Vec<Arc<dyn Component>>> {
    Ok(ordered(stack)?
        .into_iter()
        .filter(|c| c.enabled(stack))
        .collect())
}

/// Look a component up by name, with a "did you mean" for typos.
pub fn find(stack: &StackConfig, name: &str) -> anyhow::Result<Arc<dyn Component>> {
    let comps = all(stack);
    if let Some(c) = comps.iter().find(|c| c.name() == name) {
        return Ok(c.clone());
    }
    let names: Vec<&str> = comps.iter().map(|c| c.name()).collect();
    let best = names
        .iter()
        .min_by_key(|n| strsim::levenshtein(n, name))
        .filter(|n| strsim::levenshtein(n, name) <= 3);
    let hint = best
        .map(|b| format!("; did you mean `{b}`?"))
        .unwrap_or_default();
    Err(crate::error::fail(
        crate::error::ExitClass::Usage,
        format!(
            "unknown component `{name}` (known: {}){hint}",
            names.join(", ")
        ),
    ))
}
