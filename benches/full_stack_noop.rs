//! `cargo bench --bench full_stack_noop [-- RUNS]` (root; the test bed): how long a no-op
//! re-run of the WHOLE stack takes on 3 bed hosts with the release binary, and what the K3s
//! component adds to it.
//!
//! Set-up as tests/stack.rs (tests/support/full_stack.rs): real hosts and OpenBao; Zot, K3s
//! and TrueNAS are stand-ins/mocks (see there), so the figures are foundry's own cost: its SSH
//! round trips, probes and API requests, not a real apiserver's latency. After one install
//! it times RUNS `stack install` runs of three stack files that differ only in what is
//! enabled: everything; without Contour and cert-manager; without K3s (and so without the
//! charts). Each must report "No changes.". Prints min / median / max per variant.

#[path = "../tests/support/fake_kube/mod.rs"]
mod fake_kube;
#[path = "../tests/support/fake_truenas.rs"]
mod fake_truenas;
#[path = "../tests/support/full_stack.rs"]
mod full_stack;
#[path = "../tests/support/k3s_standin.rs"]
mod k3s_standin;
#[path = "../tests/support/mod.rs"]
mod support;

use full_stack::FullStack;
use std::time::Instant;
use support::stackrun::foundry;

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        // `cargo test --all-targets` (CI) builds and runs this unoptimised as a smoke test:
        // one run per variant there; the figures come from `cargo bench`.
        .unwrap_or(if cfg!(debug_assertions) { 1 } else { 10 });
    let fs = FullStack::up("bench", 10);
    foundry(&fs.sb, &["stack", "install", "--yes"]).ok();
    let full = std::fs::read_to_string(fs.sb.path(".foundry/stack.yaml")).unwrap();
    let no_charts = full
        .replace("  contour:\n", "  contour:\n    enabled: false\n")
        .replace("  cert_manager:\n", "  cert_manager:\n    enabled: false\n");
    let no_k3s = no_charts
        .replace("  k3s:\n", "  k3s:\n    enabled: false\n")
        .replace("  kube_vip:\n", "  kube_vip:\n    enabled: false\n");
    let build = if cfg!(debug_assertions) {
        "debug build: a smoke run, not a measurement"
    } else {
        "release build"
    };
    println!("no-op `stack install` on 3 hosts, {runs} runs each ({build}):");
    let variants: Vec<(&str, String)> = [
        ("full stack", &full),
        ("without contour + cert-manager", &no_charts),
        ("without k3s and the charts", &no_k3s),
    ]
    .into_iter()
    .map(|(name, text)| {
        let file = fs
            .sb
            .write(&format!("{}.yaml", name.replace(' ', "-")), text);
        (name, file.display().to_string())
    })
    .collect();
    // Round-robin over the variants: a slow patch of the machine then hits all of them alike
    // instead of skewing one variant's figures.
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..runs {
        for (i, (name, cfg)) in variants.iter().enumerate() {
            let t0 = Instant::now();
            let r = foundry(&fs.sb, &["--config", cfg, "stack", "install", "--yes"]);
            let t = t0.elapsed().as_secs_f64();
            r.ok();
            assert!(r.stdout.contains("No changes."), "{name}: {r}");
            times[i].push(t);
        }
    }
    for ((name, _), mut t) in variants.iter().zip(times) {
        t.sort_by(|a, b| a.total_cmp(b));
        println!(
            "  {name:32} min {:.3}s  median {:.3}s  max {:.3}s",
            t[0],
            t[t.len() / 2],
            t[t.len() - 1]
        );
    }
    // Where one more no-op of the full stack spends its time, from its run log: each
    // component's span ends at its report event; commands and requests in between are its own.
    let r = foundry(
        &fs.sb,
        &["--config", &variants[0].1, "stack", "install", "--yes"],
    );
    assert!(r.stdout.contains("No changes."), "{r}");
    println!("one full-stack no-op, per component (from its run log):");
    for (name, ms, execs, requests) in per_component(&fs.sb.run_logs().pop().expect("a run log")) {
        println!("  {name:14} {ms:5} ms  {execs:2} remote commands  {requests:2} API requests");
    }
}

/// (component, ms since the previous component ended, remote commands, API requests).
fn per_component(log: &std::path::Path) -> Vec<(String, u128, usize, usize)> {
    let text = std::fs::read_to_string(log).expect("read the run log");
    let mut out = Vec::new();
    let (mut mark, mut execs, mut requests) = (None, 0, 0);
    for line in text.lines() {
        let j: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let ts = humantime::parse_rfc3339_weak(j["ts"].as_str().expect("ts")).expect("a timestamp");
        let mark = mark.get_or_insert(ts);
        match j["kind"].as_str() {
            Some("exec") => execs += 1,
            Some("http") => requests += 1,
            Some("event") => {
                if let Some(c) = j["detail"]["component"].as_str() {
                    let ms = ts.duration_since(*mark).unwrap_or_default().as_millis();
                    out.push((c.to_string(), ms, execs, requests));
                    (*mark, execs, requests) = (ts, 0, 0);
                }
            }
            _ => {}
        }
    }
    out
}
