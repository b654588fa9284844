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
}
