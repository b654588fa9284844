//! `foundry stack test`: parse → [`crate::cluster::smoke::run`] → one line per step.

use super::common::{self, RunKind};
use crate::cli::{GlobalOpts, OutputFormat};
use crate::cluster::smoke::{self, Settings};
use crate::component::cluster_api;
use crate::error::{fail, ExitClass};
use std::time::Duration;

pub async fn run(g: &GlobalOpts, image: String, timeout: u64, keep: bool) -> anyhow::Result<i32> {
    let setup = common::setup(
        g,
        RunKind {
            command: "stack-test",
            // It creates (and removes) objects: the stack lock and graceful Ctrl-C.
            mutating: true,
            dry_run: false,
            hosts: &[],
        },
    )
    .await?;
    let ctx = setup.ctx.clone();
    let stack = &ctx.stack;
    let missing: Vec<&str> = [
        (
            "k3s",
            stack.components.k3s.as_ref().is_some_and(|c| c.enabled),
        ),
        (
            "contour",
            stack.components.contour.as_ref().is_some_and(|c| c.enabled),
        ),
        (
            "cert_manager",
            stack
                .components
                .cert_manager
                .as_ref()
                .is_some_and(|c| c.enabled),
        ),
    ]
    .into_iter()
    .filter(|(_, on)| !on)
    .map(|(n, _)| n)
    .collect();
    if !missing.is_empty() {
        return Err(fail(
            ExitClass::Config,
            format!(
                "stack test needs components {} enabled in {} (it checks a workload through Envoy with a certificate from cert-manager)",
                missing.join(", "),
                g.config_path().display()
            ),
        ));
    }
    let image = crate::host::container::rewrite_image(&image, &stack.images);
    let settings = Settings::new(
        &stack.cluster.domain,
        image,
        crate::component::cert_manager::issuer::name(stack),
        Duration::from_secs(timeout.max(1)),
    );
    let kube = cluster_api::client(&ctx).await?;
    let text = matches!(g.output, OutputFormat::Table);
    if text && !g.quiet {
        println!(
            "stack test: {} (namespace {})",
            settings.host, settings.name
        );
    }
    let steps = smoke::run(&kube, &settings, keep, |st| {
        if text {
            println!(
                "{} {} ({:.1}s): {}",
                if st.ok { "✓" } else { "✗" },
                st.step,
                st.ms as f64 / 1000.0,
                st.detail
            );
        }
    })
    .await;
    ctx.close().await;
    let ok = steps.iter().all(|s| s.ok);
    match g.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"host": settings.host, "namespace": settings.name, "ok": ok, "steps": steps})
            )?
        ),
        OutputFormat::Yaml => print!(
            "{}",
            serde_yaml::to_string(
                &serde_json::json!({"host": settings.host, "namespace": settings.name, "ok": ok, "steps": steps})
            )?
        ),
        OutputFormat::Table => {}
    }
    if crate::run::interrupt::interrupted() {
        return Err(fail(
            ExitClass::Interrupted,
            "interrupted; the test objects were removed",
        ));
    }
    if !ok {
        let first = steps
            .iter()
            .find(|s| !s.ok)
            .map(|s| format!("{}: {}", s.step, s.detail));
        return Err(fail(
            ExitClass::Unhealthy,
            format!("stack test failed at {}", first.unwrap_or_default()),
        ));
    }
    Ok(0)
}
