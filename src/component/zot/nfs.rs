//! Zot's storage on a TrueNAS NFS share (`components.zot.storage_dataset`): a systemd mount
//! unit for `storage_path`, enabled and started before the registry, and `RequiresMountsFor=`
//! on the Zot unit, so Zot starts only with the share mounted and never writes its blobs to
//! the local disk below the mount point. The dataset and its share are the storage
//! component's (which then runs before Zot, see `Zot::depends_on_for`).
//!
//! One read-only round trip per host decides; a mount that is already the wanted one costs
//! nothing more. A (re)mount stops a running Zot around it and starts it again, and on a
//! failed mount Zot is started again as it was, with the mount unit's journal in the error.

use super::super::files::{self, compare, FileChange, FileSpec};
use super::super::{HostSet, Phase, RemoteHost, RunCtx, Step};
use crate::config::StackConfig;
use crate::host::systemd::mount_unit_name;
use crate::ssh::{quote::quote, Cmd};

/// Default mount options: `hard` (a TrueNAS reboot pauses Zot instead of corrupting a blob
/// upload), `noatime` (no write per read); the NFS version is negotiated.
pub const DEFAULT_OPTIONS: &str = "hard,noatime";

/// Why a host without the NFS mount helper cannot mount (the plan's "not possible").
const NO_HELPER: &str = "mount.nfs is not installed (Debian/Ubuntu: nfs-common, RHEL/Fedora: nfs-utils); host-prep installs it unless components.host_prep.packages leaves it out";

/// The Zot unit this mount is for (stopped around a remount).
const ZOT_UNIT: &str = "zot.service";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsMount {
    /// `tank/registry` (for messages).
    pub dataset: String,
    /// `truenas.lan:/mnt/tank/registry`
    pub what: String,
    /// `/var/lib/zot`
    pub mount_point: String,
    pub options: String,
}

impl NfsMount {
    /// The mount of `components.zot.storage_dataset`, or None when Zot keeps a local
    /// directory. Errors say what is missing (validation reports the same, located).
    pub fn for_stack(stack: &StackConfig) -> Result<Option<NfsMount>, String> {
        let Some(z) = stack.components.zot.as_ref() else {
            return Ok(None);
        };
        let Some(name) = z.storage_dataset.as_deref().filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        let t = stack.storage.truenas.as_ref().ok_or_else(|| {
            format!(
                "components.zot.storage_dataset is `{name}` but storage.truenas is not configured"
            )
        })?;
        let (_, d) = t.dataset(name).ok_or_else(|| {
            format!("components.zot.storage_dataset `{name}` is not in storage.truenas.datasets")
        })?;
        if !d.nfs {
            return Err(format!(
                "storage.truenas.datasets `{name}` has no NFS share (nfs: true) for Zot to mount"
            ));
        }
        let server = match t.nfs_server.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => s.trim().to_string(),
            None => {
                crate::truenas::Endpoint::parse(&t.url)
                    .map_err(|e| e.to_string())?
                    .host
            }
        };
        let server = if server.contains(':') {
            format!("[{server}]")
        } else {
            server
        };
        let dataset = crate::truenas::dataset_id(&t.pool, &d.name);
        Ok(Some(NfsMount {
            what: format!("{server}:{}", crate::truenas::mount_path(&dataset)),
            dataset,
            mount_point: normalize(&z.storage_path),
            options: z
                .storage_mount_options
                .clone()
                .filter(|o| !o.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_OPTIONS.to_string()),
        }))
    }

    pub fn unit_name(&self) -> String {
        mount_unit_name(&self.mount_point)
    }

    pub fn unit_path(&self) -> String {
        format!("/etc/systemd/system/{}", self.unit_name())
    }

    /// The mount unit. Values are validated (no `%`, no whitespace, no control characters),
    /// so they are written verbatim. systemd adds the network ordering for `Type=nfs` itself
    /// (`After=remote-fs-pre.target network-online.target`, `Before=remote-fs.target`).
    pub fn render_unit(&self) -> String {
        format!(
            "# Managed by foundry: changes are overwritten on the next `foundry stack install`.\n\
             [Unit]\n\
             Description=foundry: Zot registry storage, TrueNAS {dataset} over NFS\n\
             Wants=network-online.target\n\
             After=network-online.target\n\
             \n\
             [Mount]\n\
             What={what}\n\
             Where={mp}\n\
             Type=nfs\n\
             Options={opts}\n\
             TimeoutSec=90\n\
             \n\
             [Install]\n\
             WantedBy=remote-fs.target\n",
            dataset = self.dataset,
            what = self.what,
            mp = self.mount_point,
            opts = self.options,
        )
    }

    fn unit_file(&self) -> FileSpec {
        FileSpec::new(self.unit_path(), self.render_unit(), 0o644)
    }

    /// Read-only: the unit file, the unit's state, what is mounted at the mount point, whether
    /// the NFS mount helper exists, whether Zot runs, and (not mounted) how many entries the
    /// local directory holds. It runs on every install of a zot host, so each program starts
    /// once: one `systemctl is-active` for both units, one `findmnt` for source and type.
    pub fn probe_script(&self) -> String {
        let (u, w) = (quote(&self.unit_name()), quote(&self.mount_point));
        format!(
            "{files}\
             set -- $(systemctl is-active {u} {z} 2>/dev/null)\n\
             printf 'mnt.active=%s\\nmnt.zot=%s\\n' \"$1\" \"$2\"\n\
             printf 'mnt.enabled=%s\\n' \"$(systemctl is-enabled {u} 2>/dev/null)\"\n\
             m=$(findmnt -n -r -o FSTYPE,SOURCE --mountpoint {w} 2>/dev/null | tail -n 1)\n\
             printf 'mnt.fstype=%s\\nmnt.source=%s\\n' \"${{m%% *}}\" \"${{m#* }}\"\n\
             {{ [ -x /sbin/mount.nfs ] || [ -x /usr/sbin/mount.nfs ]; }} && echo mnt.helper=yes\n\
             if [ -z \"$m\" ] && [ -d {w} ]; then printf 'mnt.local=%s\\n' \"$(ls -A {w} 2>/dev/null | wc -l)\"; fi\n\
             if [ \"$1\" = failed ]; then journalctl -u {u} -n 6 --no-pager -o cat 2>/dev/null | sed 's/^/mnt.journal=/'; fi\n",
            files = files::probe_script(&[&self.unit_path()]),
            z = quote(ZOT_UNIT),
        )
    }

    pub async fn probe(&self, host: &RemoteHost) -> anyhow::Result<MountState> {
        let out = host
            .remote
            .exec(
                &Cmd::read(self.probe_script())
                    .sudo()
                    .label("probe zot storage mount"),
            )
            .await?
            .check("probe the NFS mount of Zot's storage")?;
        let mut st = MountState::parse(&out.stdout);
        st.unit_file = files::parse_probe(&out.stdout)
            .remove(&self.unit_path())
            .flatten();
        Ok(st)
    }

    /// Whether the unit file differs (the caller then reads the old one for the diff).
    pub fn unit_change(&self, st: &MountState) -> FileChange {
        compare(&self.unit_file(), st.unit_file.as_ref())
    }

    /// Steps to reach the wanted mount from `st`; none when it is there. `old_unit`: the unit
    /// file on the host when its content differs (for the diff).
    pub fn plan(&self, st: &MountState, old_unit: Option<&[u8]>) -> Vec<Step> {
        let unit = self.unit_file();
        let change = compare(&unit, st.unit_file.as_ref());
        let mounted_right = st.active == "active" && st.source == self.what;
        let mut steps = Vec::new();
        if change != FileChange::None {
            steps.push(files::write_step(&unit, change, old_unit));
        }
        let content_changed = matches!(change, FileChange::Create | FileChange::Content);
        let reload = if content_changed || !st.loaded() {
            "systemctl daemon-reload\n"
        } else {
            ""
        };
        let enable = if st.enabled != "enabled" {
            format!("systemctl enable {}\n", quote(&self.unit_name()))
        } else {
            String::new()
        };
        if mounted_right && !content_changed {
            if !reload.is_empty() || !enable.is_empty() {
                steps.push(Step::exec(
                    format!("enable {} (mounted already)", self.unit_name()),
                    format!("{reload}{enable}"),
                ));
            }
            return steps;
        }
        let verb = if st.source.is_empty() {
            "mount"
        } else if st.source == self.what {
            "remount (options changed)"
        } else {
            "replace the mount"
        };
        let zot = if st.zot_active {
            "; Zot is stopped meanwhile"
        } else {
            ""
        };
        steps.push(Step::exec_timeout(
            format!(
                "{verb} TrueNAS {} ({}) at {} with {}{zot}",
                self.dataset,
                self.what,
                self.mount_point,
                self.unit_name()
            ),
            self.mount_script(reload, &enable, old_unit),
            150,
        ));
        steps
    }

    /// Stop Zot if it runs, (re)start the mount unit, check the source, start Zot again. On a
    /// failed mount the previous unit (`old_unit`, when there was one) is put back and mounted
    /// again, Zot is started again as it was, and the unit's journal is the error: a failed
    /// option change leaves the registry as it was, and the next run tries again.
    fn mount_script(&self, reload: &str, enable: &str, old_unit: Option<&[u8]>) -> String {
        use base64::Engine;
        let (u, w, what, z) = (
            quote(&self.unit_name()),
            quote(&self.mount_point),
            quote(&self.what),
            quote(ZOT_UNIT),
        );
        let restore = match old_unit {
            Some(old) => {
                let path = self.unit_path();
                let tmp = quote(&format!("{path}.foundry-tmp"));
                format!(
                    "  if printf '%s' {b64} | base64 -d > {tmp} && chmod 0644 {tmp} && mv -f {tmp} {p} && systemctl daemon-reload && systemctl restart {u}; then echo 'the previous mount unit is back and mounted again' >&2; else echo 'the previous mount unit could not be mounted again either' >&2; fi\n",
                    b64 = quote(&base64::engine::general_purpose::STANDARD.encode(old)),
                    p = quote(&path),
                )
            }
            None => String::new(),
        };
        format!(
            "{reload}{enable}\
             was=$(systemctl is-active {z} 2>/dev/null)\n\
             [ \"$was\" = active ] && systemctl stop {z}\n\
             if ! systemctl restart {u}; then\n\
             \x20 echo \"mounting \"{what}\" at \"{w}\" failed:\" >&2; journalctl -u {u} -n 10 --no-pager -o cat >&2\n\
             {restore}\
             \x20 [ \"$was\" = active ] && systemctl start {z}\n\
             \x20 exit 1\n\
             fi\n\
             src=$(findmnt -n -o SOURCE --mountpoint {w} | tail -n 1)\n\
             if [ \"$src\" != {what} ]; then echo {w}\" is mounted from '$src', not \"{what} >&2; exit 1; fi\n\
             if [ \"$was\" = active ]; then systemctl start {z}; fi\n\
             exit 0\n"
        )
    }

    /// Uninstall: stop and disable the mount, remove its unit. The data stays on TrueNAS.
    pub fn uninstall_plan(&self, st: &MountState) -> Vec<Step> {
        if st.unit_file.is_none() && st.source.is_empty() {
            return vec![];
        }
        let u = quote(&self.unit_name());
        vec![Step::exec(
            format!(
                "unmount {} ({}) and remove {} (the data stays on TrueNAS)",
                self.mount_point,
                self.what,
                self.unit_name()
            ),
            format!(
                "systemctl disable --now {u} 2>/dev/null || systemctl stop {u}\n\
                 rm -f {}\nsystemctl daemon-reload\n",
                quote(&self.unit_path())
            ),
        )]
    }
}

/// `/srv//zot/` → `/srv/zot` (the form systemd compares `Where=` and the unit name with).
fn normalize(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// The mount as the host has it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountState {
    pub unit_file: Option<files::FileState>,
    /// `systemctl is-active` of the mount unit.
    pub active: String,
    /// `systemctl is-enabled` of the mount unit ("" when not found).
    pub enabled: String,
    /// What is mounted at the mount point ("" when nothing).
    pub source: String,
    pub fstype: String,
    /// `mount.nfs` exists.
    pub helper: bool,
    pub zot_active: bool,
    /// Entries in the local directory, when nothing is mounted there.
    pub local_entries: Option<u64>,
    pub journal: Vec<String>,
}

impl MountState {
    pub fn parse(out: &str) -> MountState {
        let mut s = MountState::default();
        for line in out.lines() {
            let Some((k, v)) = line.strip_prefix("mnt.").and_then(|r| r.split_once('=')) else {
                continue;
            };
            let v = v.trim_end().to_string();
            match k {
                "active" => s.active = v,
                "enabled" => s.enabled = v,
                "source" => s.source = v,
                "fstype" => s.fstype = v,
                "helper" => s.helper = v == "yes",
                "zot" => s.zot_active = v == "active",
                "local" => s.local_entries = v.trim().parse().ok(),
                "journal" => s.journal.push(v),
                _ => {}
            }
        }
        s
    }

    /// systemd knows the unit (a unit file it has loaded): `is-enabled` answers something.
    fn loaded(&self) -> bool {
        !self.enabled.is_empty() && self.enabled != "not-found"
    }

    /// For `status`: healthy when the wanted share is mounted.
    pub fn describe(&self, m: &NfsMount) -> (bool, String) {
        if self.active == "active" && self.source == m.what {
            return (
                true,
                format!("storage: {} mounted ({})", m.what, self.fstype),
            );
        }
        let why = if !self.source.is_empty() {
            format!(
                "{} is mounted from {}, not {}",
                m.mount_point, self.source, m.what
            )
        } else {
            let tail = self
                .journal
                .last()
                .map(|j| format!(": {j}"))
                .unwrap_or_default();
            format!(
                "storage {} is not mounted ({} {}{tail})",
                m.mount_point,
                m.unit_name(),
                if self.active.is_empty() {
                    "unknown"
                } else {
                    &self.active
                }
            )
        };
        (false, why)
    }
}

/// Mount the share on every `zot` host (a no-op phase when Zot keeps a local directory).
pub struct MountStorage;

#[async_trait::async_trait]
impl Phase for MountStorage {
    fn title(&self) -> String {
        "mount the registry storage".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let m = match NfsMount::for_stack(&ctx.stack) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(vec![]),
            Err(e) => return Ok(vec![Step::cannot("mount Zot's storage", e)]),
        };
        let st = m.probe(host).await?;
        if let Some(n) = st.local_entries.filter(|n| *n > 0) {
            ctx.note(format!(
                "{}: {} holds {n} entr{} on the local disk; the NFS share is mounted over {} (hidden, not deleted): copy what you want to keep to the share",
                host.name(),
                m.mount_point,
                if n == 1 { "y" } else { "ies" },
                if n == 1 { "it" } else { "them" },
            ));
        }
        if !st.helper && !ctx.dry_run {
            return Ok(vec![Step::cannot(
                format!("mount {} at {}", m.what, m.mount_point),
                NO_HELPER,
            )]);
        }
        let old = if m.unit_change(&st) == FileChange::Content {
            host.remote.read_file(&m.unit_path(), true).await?
        } else {
            None
        };
        Ok(m.plan(&st, old.as_deref()))
    }
}

/// Uninstall: after the registry is stopped, unmount and remove the mount unit.
pub struct UnmountStorage;

#[async_trait::async_trait]
impl Phase for UnmountStorage {
    fn title(&self) -> String {
        "unmount the registry storage".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let Ok(Some(m)) = NfsMount::for_stack(&ctx.stack) else {
            return Ok(vec![]);
        };
        let st = m.probe(host).await?;
        Ok(m.uninstall_plan(&st))
    }
}
