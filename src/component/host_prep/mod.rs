//! `host-prep`: what K3s and the containers need on every host — packages present, swap off,
//! kernel modules and sysctls persisted and loaded, time sync active, required ports free.
//! One read-only probe per host; each item is check-then-act. What a host cannot do (a kernel
//! module inside a container) is reported precisely as a `Cannot` step, never pretended.

mod probe;

use super::files::{compare, write_step, FileChange, FileSpec};
use super::{Component, HostSet, HostStatus, Phase, RemoteHost, RunCtx, Step};
use crate::config::{HostConfig, Role, StackConfig};
use crate::ssh::quote::{join, quote};
use crate::ssh::Cmd;
use probe::{HostPrepState, PackageManager};

pub const MODULES_FILE: &str = "/etc/modules-load.d/foundry.conf";
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-foundry.conf";

pub struct HostPrep;

/// Containers share the kernel (and usually swap and clock) of the machine they run on.
pub fn is_container(virt: &str) -> bool {
    matches!(
        virt,
        "systemd-nspawn"
            | "lxc"
            | "lxc-libvirt"
            | "docker"
            | "podman"
            | "openvz"
            | "wsl"
            | "container-other"
            | "rkt"
            | "proot"
            | "pouch"
    )
}

fn modules_file(stack: &StackConfig) -> FileSpec {
    let mut s = String::from("# Managed by foundry (host-prep): kernel modules loaded at boot.\n");
    for m in &stack.components.host_prep.kernel_modules {
        s.push_str(m);
        s.push('\n');
    }
    FileSpec::new(MODULES_FILE, s, 0o644)
}

fn sysctl_file(stack: &StackConfig) -> FileSpec {
    let mut s =
        String::from("# Managed by foundry (host-prep): kernel settings applied at boot.\n");
    for (k, v) in &stack.components.host_prep.sysctls {
        s.push_str(&format!("{k} = {v}\n"));
    }
    FileSpec::new(SYSCTL_FILE, s, 0o644)
}

/// The module and sysctl files have no quoting: a line break or another control character in
/// an entry would add a line that systemd applies at boot. `stack validate` refuses such
/// values; this is the second line, so a stack that skipped validation cannot write one.
fn one_line_entries(cfg: &crate::config::HostPrepConfig) -> anyhow::Result<()> {
    let bad = |what: &str, v: &str| -> anyhow::Result<()> {
        if v.chars().any(|c| c.is_control()) {
            anyhow::bail!(
                "host_prep.{what} {:?} holds a control character (a line break would add a line to the file systemd reads at boot); remove it",
                v.chars().take(80).collect::<String>()
            );
        }
        Ok(())
    };
    for m in &cfg.kernel_modules {
        bad("kernel_modules", m)?;
    }
    for (k, v) in &cfg.sysctls {
        bad("sysctls key", k)?;
        bad("sysctls value", v)?;
    }
    Ok(())
}

fn install_script(pm: PackageManager, pkgs: &[String]) -> Option<String> {
    let list = join(pkgs);
    match pm {
        PackageManager::Apt => Some(format!(
            "export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q --no-install-recommends {list} || {{ apt-get update -q && apt-get install -y -q --no-install-recommends {list}; }}"
        )),
        PackageManager::Dnf => Some(format!("dnf install -y {list}")),
        PackageManager::Yum => Some(format!("yum install -y {list}")),
        PackageManager::Zypper => Some(format!("zypper --non-interactive install {list}")),
        PackageManager::Apk => Some(format!("apk add {list}")),
        PackageManager::Unknown => None,
    }
}

/// The steps for one host, from its probed state. Pure, so every rule is unit-tested.
pub fn steps_for(
    stack: &StackConfig,
    virt: &str,
    listening: &[u16],
    st: &HostPrepState,
) -> anyhow::Result<Vec<Step>> {
    let cfg = &stack.components.host_prep;
    one_line_entries(cfg)?;
    let container = is_container(virt);
    let mut steps = Vec::new();

    // Ports first: a busy port is a conflict foundry must not resolve by itself.
    let busy: Vec<String> = cfg
        .required_ports
        .iter()
        .filter(|p| listening.contains(p))
        .map(|p| p.to_string())
        .collect();
    if !busy.is_empty() {
        anyhow::bail!("required TCP port(s) already in use: {} (free them or change components.host_prep.required_ports)", busy.join(", "));
    }

    let missing: Vec<String> = cfg
        .packages
        .iter()
        .filter(|p| !st.packages_present.contains(*p))
        .cloned()
        .collect();
    if !missing.is_empty() {
        match install_script(st.package_manager, &missing) {
            Some(script) => steps.push(Step::exec_timeout(
                format!("install packages: {}", missing.join(" ")),
                script,
                900,
            )),
            None => steps.push(Step::cannot(
                format!("install packages: {}", missing.join(" ")),
                "no known package manager (apt, dnf, yum, zypper, apk) on this host",
            )),
        }
    }

    if cfg.disable_swap {
        if st.swap_active > 0 {
            if container {
                steps.push(Step::cannot("turn swap off", format!("swap belongs to the machine this {virt} container runs on: turn it off there")));
            } else {
                steps.push(Step::exec("turn swap off (swapoff -a)", "swapoff -a"));
            }
        }
        if st.fstab_swap_lines > 0 {
            steps.push(Step::exec(
                "comment out swap entries in /etc/fstab (backup /etc/fstab.foundry-bak)",
                r"sed -i.foundry-bak -E 's@^([^#].*[[:space:]]swap[[:space:]].*)$@# \1 # disabled by foundry@' /etc/fstab",
            ));
        }
    }

    // Modules: persisted for boot, loaded now.
    let mfile = modules_file(stack);
    let mchange = compare(&mfile, st.modules_file.as_ref());
    if mchange != FileChange::None {
        steps.push(write_step(
            &mfile,
            mchange,
            st.modules_file_content.as_deref(),
        ));
    }
    let unloaded: Vec<&String> = cfg
        .kernel_modules
        .iter()
        .filter(|m| !st.modules_loaded.contains(*m))
        .collect();
    for m in &unloaded {
        if container {
            steps.push(Step::cannot(format!("load kernel module {m}"), format!("{virt} container: modules are loaded by the machine's kernel; run `modprobe {m}` there")));
        } else {
            steps.push(Step::exec(
                format!("load kernel module {m}"),
                format!("modprobe {}", quote(m)),
            ));
        }
    }

    // Sysctls: persisted for boot, set now where they differ.
    let sfile = sysctl_file(stack);
    let schange = compare(&sfile, st.sysctl_file.as_ref());
    if schange != FileChange::None {
        steps.push(write_step(
            &sfile,
            schange,
            st.sysctl_file_content.as_deref(),
        ));
    }
    for (k, want) in &cfg.sysctls {
        match st.sysctls.get(k) {
            Some(have) if have.trim() == want.trim() => {}
            Some(_) if container && !st.sysctls_writable.contains(k) => {
                steps.push(Step::cannot(format!("set {k} = {want}"), format!("read-only in this {virt} container: set it on the machine")))
            }
            Some(_) => steps.push(Step::exec(format!("set {k} = {want}"), format!("sysctl -w {}", quote(&format!("{k}={want}"))))),
            None if container => steps.push(Step::cannot(
                format!("set {k} = {want}"),
                format!("{k} does not exist in this {virt} container (its kernel module is not loaded on the machine)"),
            )),
            // Appears once the module (e.g. br_netfilter) is loaded by a step above.
            None => steps.push(Step::exec(format!("set {k} = {want}"), format!("sysctl -w {}", quote(&format!("{k}={want}"))))),
        }
    }

    if cfg.require_time_sync && !st.time_synced {
        if container {
            steps.push(Step::cannot(
                "activate time sync",
                format!("the clock of a {virt} container is the machine's: run time sync there"),
            ));
        } else if let Some(unit) = &st.timesync_unit_available {
            steps.push(Step::exec(
                format!("enable and start {unit}"),
                format!("systemctl enable --now {}", quote(unit)),
            ));
        } else {
            steps.push(Step::cannot(
                "activate time sync",
                "no time sync daemon installed: add chrony or systemd-timesyncd to components.host_prep.packages",
            ));
        }
    }
    Ok(steps)
}

#[async_trait::async_trait]
impl Component for HostPrep {
    fn name(&self) -> &str {
        "host-prep"
    }
    fn summary(&self) -> &'static str {
        "Every host: packages, swap off, kernel modules, sysctls, time sync, free ports; no container runtime"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }
    fn roles(&self) -> &'static [Role] {
        &[]
    }
    fn enabled(&self, stack: &StackConfig) -> bool {
        stack.components.host_prep.enabled
    }
    fn describe(&self, stack: &StackConfig, _host: &HostConfig) -> Vec<String> {
        let c = &stack.components.host_prep;
        let mut v = vec![format!("ensure packages: {}", c.packages.join(", "))];
        if c.disable_swap {
            v.push("turn swap off now and in /etc/fstab".into());
        }
        v.push(format!(
            "load kernel modules {} (persisted in {MODULES_FILE})",
            c.kernel_modules.join(", ")
        ));
        v.push(format!(
            "set sysctls {} (persisted in {SYSCTL_FILE})",
            c.sysctls
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if c.require_time_sync {
            v.push("ensure time sync is active".into());
        }
        if !c.required_ports.is_empty() {
            v.push(format!("check TCP ports free: {:?}", c.required_ports));
        }
        v
    }
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![Box::new(Prepare)]
    }
    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![Box::new(Unprepare)]
    }
    async fn status(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<HostStatus> {
        let steps = plan(&ctx.stack, host).await?;
        let pending: Vec<&Step> = steps.iter().filter(|s| s.mutates()).collect();
        let cannot = steps.len() - pending.len();
        let message = if pending.is_empty() {
            if cannot > 0 {
                format!("prepared ({cannot} item(s) not possible on this host)")
            } else {
                "prepared".into()
            }
        } else {
            format!(
                "{} change(s) pending: {}",
                pending.len(),
                pending[0].description
            )
        };
        Ok(HostStatus {
            installed: pending.is_empty(),
            version: None,
            healthy: pending.is_empty(),
            message,
        })
    }
}

/// One probe, then a step per item that differs.
async fn plan(stack: &StackConfig, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
    let st = probe::probe(stack, host).await?;
    steps_for(stack, &host.facts.virt, &host.facts.listening_tcp, &st)
}

/// Every host, in parallel.
struct Prepare;

#[async_trait::async_trait]
impl Phase for Prepare {
    fn title(&self) -> String {
        "prepare hosts".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        plan(&ctx.stack, host).await
    }
}

/// Removes foundry's module and sysctl files. Packages, swap and time sync are left as they
/// are: other software may rely on them.
struct Unprepare;

#[async_trait::async_trait]
impl Phase for Unprepare {
    fn title(&self) -> String {
        "remove host settings".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, _ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let out = host
            .remote
            .exec(
                &Cmd::read(format!(
                    "for f in {} {}; do [ -e \"$f\" ] && echo \"$f\"; done; true",
                    quote(MODULES_FILE),
                    quote(SYSCTL_FILE)
                ))
                .sudo(),
            )
            .await?;
        Ok(out
            .stdout
            .lines()
            .filter(|l| !l.is_empty())
            .map(|f| {
                Step::exec(
                    format!("remove {f} (packages, swap and time sync left as they are)"),
                    format!("rm -f {}", quote(f)),
                )
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
