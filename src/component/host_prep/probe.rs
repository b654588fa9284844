//! The single read-only round trip that tells host-prep everything it needs.

use super::{MODULES_FILE, SYSCTL_FILE};
use crate::component::files::{self, FileState};
use crate::component::RemoteHost;
use crate::config::StackConfig;
use crate::ssh::quote::quote;
use crate::ssh::Cmd;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PackageManager {
    Apt,
    Dnf,
    Yum,
    Zypper,
    Apk,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Default)]
pub struct HostPrepState {
    pub package_manager: PackageManager,
    pub packages_present: BTreeSet<String>,
    pub swap_active: usize,
    pub fstab_swap_lines: usize,
    pub modules_loaded: BTreeSet<String>,
    pub modules_file: Option<FileState>,
    pub modules_file_content: Option<Vec<u8>>,
    pub sysctls: BTreeMap<String, String>,
    pub sysctls_writable: BTreeSet<String>,
    pub sysctl_file: Option<FileState>,
    pub sysctl_file_content: Option<Vec<u8>>,
    pub time_synced: bool,
    pub timesync_unit_available: Option<String>,
}

pub fn script(ctx_packages: &[String], modules: &[String], sysctls: &[&String]) -> String {
    let mut s = String::from(
        "if command -v apt-get >/dev/null; then echo pm=apt; elif command -v dnf >/dev/null; then echo pm=dnf; \
         elif command -v yum >/dev/null; then echo pm=yum; elif command -v zypper >/dev/null; then echo pm=zypper; \
         elif command -v apk >/dev/null; then echo pm=apk; else echo pm=unknown; fi\n",
    );
    if !ctx_packages.is_empty() {
        let list = crate::ssh::quote::join(ctx_packages);
        // One package-manager call for the whole list; prints `pkg=NAME` per installed package.
        s.push_str(&format!(
            "if command -v dpkg-query >/dev/null; then dpkg-query -W -f='${{Status}} ${{Package}}\\n' {list} 2>/dev/null | while read -r a b c p; do [ \"$a $b $c\" = 'install ok installed' ] && echo \"pkg=$p\"; done; \
             elif command -v rpm >/dev/null; then for p in {list}; do rpm -q \"$p\" >/dev/null 2>&1 && echo \"pkg=$p\"; done; \
             elif command -v apk >/dev/null; then for p in {list}; do apk info -e \"$p\" >/dev/null 2>&1 && echo \"pkg=$p\"; done; fi\n"
        ));
    }
    // Builtins only (read loops over /proc): no program started for swap, modules or sysctls.
    s.push_str(
        "n=0; if [ -r /proc/swaps ]; then { read -r _; while read -r l; do [ -n \"$l\" ] && n=$((n+1)); done; } < /proc/swaps; fi; echo swap.active=$n\n",
    );
    s.push_str(
        "echo swap.fstab=$(grep -Ec '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab 2>/dev/null)\n",
    );
    for m in modules {
        let q = quote(m);
        // /sys/module/<name> exists for a loaded module and for a built-in one with
        // parameters; the kernel names it with `_` for `-`.
        let sys = quote(&format!("/sys/module/{}", m.replace('-', "_")));
        s.push_str(&format!("[ -d {sys} ] && echo mod={q}\n"));
    }
    for k in sysctls {
        let q = quote(k);
        let f = quote(&format!("/proc/sys/{}", k.replace('.', "/")));
        s.push_str(&format!(
            "if [ -r {f} ] && read -r v < {f}; then printf 'sysctl %s %s\\n' {q} \"$v\"; fi; [ -w {f} ] && printf 'sysctlw %s\\n' {q}\n"
        ));
    }
    s.push_str(&files::probe_script(&[MODULES_FILE, SYSCTL_FILE]));
    // One systemctl call for all time-sync daemons (each call costs ~20 ms). No timedatectl:
    // it starts systemd-timedated over D-Bus on every call (~50 ms), for the same answer.
    s.push_str(
        "if systemctl is-active chrony chronyd ntp ntpd ntpsec openntpd systemd-timesyncd 2>/dev/null | grep -qx active; then echo time.synced=1; fi\n\
         for u in systemd-timesyncd chrony chronyd; do for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do \
         if [ -e \"$d/$u.service\" ]; then echo time.unit=$u; break 2; fi; done; done\n",
    );
    s
}

pub fn parse(out: &str) -> HostPrepState {
    let mut st = HostPrepState::default();
    for line in out.lines() {
        if let Some(v) = line.strip_prefix("pm=") {
            st.package_manager = match v {
                "apt" => PackageManager::Apt,
                "dnf" => PackageManager::Dnf,
                "yum" => PackageManager::Yum,
                "zypper" => PackageManager::Zypper,
                "apk" => PackageManager::Apk,
                _ => PackageManager::Unknown,
            };
        } else if let Some(v) = line.strip_prefix("pkg=") {
            st.packages_present.insert(v.to_string());
        } else if let Some(v) = line.strip_prefix("swap.active=") {
            st.swap_active = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("swap.fstab=") {
            st.fstab_swap_lines = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("mod=") {
            st.modules_loaded.insert(v.to_string());
        } else if let Some(rest) = line.strip_prefix("sysctl ") {
            if let Some((k, v)) = rest.split_once(' ') {
                st.sysctls.insert(k.to_string(), v.to_string());
            }
        } else if let Some(k) = line.strip_prefix("sysctlw ") {
            st.sysctls_writable.insert(k.to_string());
        } else if line == "time.synced=1" {
            st.time_synced = true;
        } else if let Some(u) = line.strip_prefix("time.unit=") {
            st.timesync_unit_available = Some(u.to_string());
        }
    }
    let files = files::parse_probe(out);
    st.modules_file = files.get(MODULES_FILE).cloned().flatten();
    st.sysctl_file = files.get(SYSCTL_FILE).cloned().flatten();
    st
}

pub async fn probe(stack: &StackConfig, host: &RemoteHost) -> anyhow::Result<HostPrepState> {
    let cfg = &stack.components.host_prep;
    let keys: Vec<&String> = cfg.sysctls.keys().collect();
    let out = host
        .remote
        .exec(
            &Cmd::read(script(&cfg.packages, &cfg.kernel_modules, &keys))
                .sudo()
                .label("probe host-prep"),
        )
        .await?
        .check("probe host-prep state")?;
    let mut st = parse(&out.stdout);
    // Old content only for the diff, and only when the file differs (rare: first run or drift).
    let want_m = super::modules_file(stack);
    if st
        .modules_file
        .as_ref()
        .is_some_and(|f| f.sha256 != want_m.sha256())
    {
        st.modules_file_content = host.remote.read_file(MODULES_FILE, true).await?;
    }
    let want_s = super::sysctl_file(stack);
    if st
        .sysctl_file
        .as_ref()
        .is_some_and(|f| f.sha256 != want_s.sha256())
    {
        st.sysctl_file_content = host.remote.read_file(SYSCTL_FILE, true).await?;
    }
    Ok(st)
}
