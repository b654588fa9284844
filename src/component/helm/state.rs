//! What the apply phase learned about each chart this run, for the wait phases after it:
//! changed or not, the install Job it replaces, the chart's failure if any. One output slot
//! shared by every chart component (keyed by chart name).

use crate::component::RunCtx;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct ChartState {
    /// The HelmChart was (or, in a plan, would be) applied this run.
    pub changed: bool,
    /// UID of the `helm-install-<name>` Job before the apply: the wait wants a newer one.
    pub old_job_uid: Option<String>,
    /// The live chart's `Failed=True` message (unchanged chart whose last install failed).
    pub failed: Option<String>,
}

#[derive(Clone, Default)]
struct Charts(Arc<Mutex<BTreeMap<String, ChartState>>>);

fn slot(ctx: &RunCtx) -> Charts {
    if let Some(c) = ctx.outputs.get::<Charts>() {
        return c;
    }
    let c = Charts::default();
    ctx.outputs.put(c.clone());
    c
}

pub fn put(ctx: &RunCtx, chart: &str, st: ChartState) {
    slot(ctx)
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(chart.to_string(), st);
}

/// The state the apply phase recorded; a chart it did not see counts as changed (wait).
pub fn get(ctx: &RunCtx, chart: &str) -> ChartState {
    slot(ctx)
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(chart)
        .cloned()
        .unwrap_or(ChartState {
            changed: true,
            ..Default::default()
        })
}
