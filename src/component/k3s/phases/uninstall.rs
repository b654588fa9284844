//! `component uninstall k3s`: agents first (parallel), then the joining servers one at a time,
//! the first server last, so the servers that are still running keep quorum for as long as
//! there is a cluster to keep. On each host: stop and disable the unit, kill what
//! `KillMode=process` leaves behind (containerd shims and their containers), unmount what K3s
//! mounted, delete the CNI interfaces and iptables chains, remove the unit, the binary, the
//! config and the data directory. Planned from a probe: a host with nothing of K3s left gets
//! no step. The tokens and the kubeconfig stay in OpenBao (a reinstall rejoins nothing old:
//! the data directory is gone; `secret delete` removes them on purpose).

use super::super::install::{unit_name, BIN_PATH, IMAGES_DIR};
use super::super::roles::NodeRole;
use super::select_roles;
use crate::component::{HostSet, Phase, RemoteHost, RunCtx, Step};
use crate::config::HostConfig;
use crate::ssh::Cmd;

/// What the probe found of K3s on a host.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Leftovers {
    pub units: Vec<String>,
    pub active: Vec<String>,
    pub binary: bool,
    pub config: bool,
    pub data: bool,
}

impl Leftovers {
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
            && self.active.is_empty()
            && !self.binary
            && !self.config
            && !self.data
    }

    /// "k3s.service (active), /usr/local/bin/k3s, /etc/rancher/k3s, /var/lib/rancher/k3s (data)"
    pub fn describe(&self) -> String {
        let mut v: Vec<String> = self
            .units
            .iter()
            .map(|u| {
                let a = if self.active.contains(u) {
                    " (active)"
                } else {
                    ""
                };
                format!("{u}.service{a}")
            })
            .collect();
        if self.binary {
            v.push(BIN_PATH.into());
        }
        if self.config {
            v.push(CONFIG_DIR.into());
        }
        if self.data {
            v.push(format!("{DATA_DIR} (etcd data, images, containers)"));
        }
        v.join(", ")
    }
}

const CONFIG_DIR: &str = "/etc/rancher/k3s";
const DATA_DIR: &str = "/var/lib/rancher/k3s";
const UNITS: [&str; 2] = ["k3s", "k3s-agent"];

/// One read-only round trip.
pub fn probe_script() -> String {
    let mut s = String::new();
    for u in UNITS {
        s.push_str(&format!(
            "[ -e /etc/systemd/system/{u}.service ] && echo unit {u}\n\
             systemctl is-active --quiet {u}.service 2>/dev/null && echo active {u}\n"
        ));
    }
    s.push_str(&format!(
        "[ -e {BIN_PATH} ] && echo binary\n[ -d {CONFIG_DIR} ] && echo config\n[ -d {DATA_DIR} ] && echo data\n:\n"
    ));
    s
}

pub fn parse_probe(out: &str) -> Leftovers {
    let mut l = Leftovers::default();
    for line in out.lines() {
        match line.split_once(' ') {
            Some(("unit", u)) => l.units.push(u.to_string()),
            Some(("active", u)) => l.active.push(u.to_string()),
            _ => match line {
                "binary" => l.binary = true,
                "config" => l.config = true,
                "data" => l.data = true,
                _ => {}
            },
        }
    }
    l
}

/// The removal, as K3s's own `k3s-killall.sh` + `k3s-uninstall.sh` do it (fixed text: no value
/// from stack.yaml reaches it).
pub fn remove_script() -> String {
    let units: Vec<String> = UNITS.iter().map(|u| format!("{u}.service")).collect();
    format!(
        "set -u\n\
         for u in {units}; do systemctl stop \"$u\" 2>/dev/null; systemctl disable \"$u\" 2>/dev/null; done\n\
         # KillMode=process leaves the containerd shims (and so the containers) running\n\
         pids=$(pgrep -f '{DATA_DIR}/data/[^/]*/bin/containerd-shim' 2>/dev/null)\n\
         [ -z \"$pids\" ] || kill -9 $pids 2>/dev/null\n\
         awk '$2 ~ \"^(/run/k3s|{DATA_DIR}|/var/lib/kubelet)\" {{print $2}}' /proc/self/mounts | sort -r | while read -r m; do umount -l \"$m\" 2>/dev/null; done\n\
         for i in cni0 flannel.1 flannel-v6.1 flannel-wg kube-ipvs0; do ip link delete \"$i\" 2>/dev/null; done\n\
         if command -v iptables-save >/dev/null 2>&1; then\n\
         \x20 iptables-save | grep -v -e KUBE- -e CNI- -e flannel | iptables-restore 2>/dev/null\n\
         fi\n\
         rm -f /etc/systemd/system/k3s.service /etc/systemd/system/k3s-agent.service {BIN_PATH}\n\
         systemctl daemon-reload\n\
         rm -rf {CONFIG_DIR} {DATA_DIR} /var/lib/kubelet /run/k3s /run/flannel\n\
         [ ! -e {BIN_PATH} ] && [ ! -d {DATA_DIR} ]\n",
        units = units.join(" ")
    )
}

pub struct Remove {
    title: &'static str,
    set: HostSet,
    roles: &'static [NodeRole],
}

impl Remove {
    pub fn agents() -> Remove {
        Remove {
            title: "remove agents",
            set: HostSet::Parallel,
            roles: &[NodeRole::Agent],
        }
    }
    pub fn joining_servers() -> Remove {
        Remove {
            title: "remove joining servers",
            set: HostSet::Serial,
            roles: &[NodeRole::JoiningServer],
        }
    }
    pub fn first_server() -> Remove {
        Remove {
            title: "remove the first server",
            set: HostSet::Leader,
            roles: &[NodeRole::FirstServer],
        }
    }
}

#[async_trait::async_trait]
impl Phase for Remove {
    fn title(&self) -> String {
        self.title.into()
    }
    fn hosts(&self) -> HostSet {
        self.set
    }
    fn select(&self, ctx: &RunCtx, targets: &[HostConfig]) -> Vec<HostConfig> {
        select_roles(&ctx.stack, targets, self.roles)
    }
    async fn plan_host(&self, _ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let out = host
            .remote
            .exec(&Cmd::read(probe_script()).sudo().label("k3s leftovers"))
            .await?
            .check("k3s leftovers")?;
        let found = parse_probe(&out.stdout);
        if found.is_empty() {
            return Ok(vec![]);
        }
        let unit = unit_name(self.roles[0].is_server());
        Ok(vec![Step::exec_timeout(
            format!(
                "stop {unit} and remove K3s: {} (also its containers, mounts, CNI interfaces, iptables chains, {IMAGES_DIR})",
                found.describe()
            ),
            remove_script(),
            120,
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_reads_what_is_left() {
        let l = parse_probe("unit k3s\nactive k3s\nbinary\ndata\n");
        assert_eq!(l.units, vec!["k3s"]);
        assert_eq!(l.active, vec!["k3s"]);
        assert!(l.binary && l.data && !l.config);
        assert_eq!(
            l.describe(),
            "k3s.service (active), /usr/local/bin/k3s, /var/lib/rancher/k3s (etcd data, images, containers)"
        );
        assert!(parse_probe("").is_empty());
    }

    #[test]
    fn the_removal_ends_by_checking_that_binary_and_data_are_gone() {
        let s = remove_script();
        assert!(s.contains("systemctl stop \"$u\""));
        assert!(s
            .trim_end()
            .ends_with("[ ! -e /usr/local/bin/k3s ] && [ ! -d /var/lib/rancher/k3s ]"));
        // The unmount happens before the data directory goes (a mounted dir cannot be removed).
        assert!(s.find("umount -l").unwrap() < s.find("rm -rf /etc/rancher/k3s").unwrap());
    }
}
