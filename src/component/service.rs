//! The shared machinery for "a container under a systemd unit" (OpenBao, Zot, user services):
//! one read-only probe of directories, files, unit and image; steps only for what differs;
//! restart only when the unit, a config file or the image changed.

use super::files::{self, compare, FileChange, FileSpec};
use super::{HostStatus, RemoteHost, Step};
use crate::host::container::{self, ContainerService};
use crate::host::facts::RuntimeKind;
use crate::host::systemd::{self, systemctl};
use crate::ssh::{quote::quote, Cmd};

#[derive(Debug, Clone)]
pub struct DirSpec {
    pub path: String,
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

impl DirSpec {
    pub fn new(path: impl Into<String>, mode: u32, owner: &str, group: &str) -> DirSpec {
        DirSpec {
            path: path.into(),
            mode,
            owner: owner.into(),
            group: group.into(),
        }
    }
}

/// Desired state of one container service on one host.
#[derive(Debug, Clone)]
pub struct ServiceDesired {
    pub svc: ContainerService,
    pub dirs: Vec<DirSpec>,
    /// Files the service reads; a change restarts it.
    pub files: Vec<FileSpec>,
    /// Pull with TLS verification off (plain-HTTP / self-signed private registry).
    pub insecure_registry: bool,
}

impl ServiceDesired {
    pub fn unit_path(&self) -> String {
        format!("/etc/systemd/system/{}", self.svc.unit_name())
    }

    fn unit_file(&self) -> FileSpec {
        FileSpec::new(self.unit_path(), self.svc.render_unit(), 0o644)
    }
}

fn image_exists_script(rt: RuntimeKind, image: &str) -> String {
    match rt {
        RuntimeKind::Podman => format!("podman image exists {}", quote(image)),
        RuntimeKind::Docker => format!("docker image inspect {} >/dev/null 2>&1", quote(image)),
    }
}

/// One `stat` for every directory: `dstat <mode> <owner> <group> <raw-mode-hex> <path>`.
fn dir_probe_script(dirs: &[DirSpec]) -> String {
    if dirs.is_empty() {
        return String::new();
    }
    let list = dirs
        .iter()
        .map(|d| quote(&d.path))
        .collect::<Vec<_>>()
        .join(" ");
    format!("stat -c 'dstat %a %U %G %f %n' -- {list} 2>/dev/null; :\n")
}

/// Returns (mode, owner, group) per existing directory; absent ones (and non-directories) are
/// missing from the map.
fn parse_dirs(out: &str) -> std::collections::HashMap<String, (u32, String, String)> {
    let mut m = std::collections::HashMap::new();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix("dstat ") else {
            continue;
        };
        if let [mode, owner, group, raw, path] = rest.splitn(5, ' ').collect::<Vec<_>>().as_slice()
        {
            // S_IFMT 0xF000, S_IFDIR 0x4000.
            if u32::from_str_radix(raw, 16).is_ok_and(|m| m & 0xF000 == 0x4000) {
                m.insert(
                    path.to_string(),
                    (
                        u32::from_str_radix(mode, 8).unwrap_or(0),
                        owner.to_string(),
                        group.to_string(),
                    ),
                );
            }
        }
    }
    m
}

/// Plan a container service: read everything in one round trip, then emit only needed steps.
pub async fn plan(host: &RemoteHost, want: &ServiceDesired) -> anyhow::Result<Vec<Step>> {
    let unit = want.unit_file();
    let mut all_files: Vec<FileSpec> = want.files.clone();
    all_files.push(unit.clone());
    let paths: Vec<&str> = all_files.iter().map(|f| f.path.as_str()).collect();
    let script = format!(
        "{dirs}{files}{unit}\n",
        dirs = dir_probe_script(&want.dirs),
        files = files::probe_script(&paths),
        unit = systemd::probe_script(&want.svc.unit_name()),
    );
    let out = host
        .remote
        .exec(
            &Cmd::read(script)
                .sudo()
                .label(&format!("probe {}", want.svc.name)),
        )
        .await?
        .check("probe service state")?;
    let dirs = parse_dirs(&out.stdout);
    let file_states = files::parse_probe(&out.stdout);
    let unit_state = systemd::parse_probe(&out.stdout);
    // When the unit file is the wanted one and the unit is active, its container runs the
    // wanted image, so the image is present: the (slow) runtime is asked only otherwise.
    let unit_current = file_states
        .get(&unit.path)
        .and_then(|s| s.as_ref())
        .is_some_and(|s| s.sha256 == unit.sha256());
    let image_present = (unit_current && unit_state.is_active())
        || host
            .remote
            .exec(
                &Cmd::read(image_exists_script(want.svc.runtime, &want.svc.image))
                    .sudo()
                    .label(&format!("is image {} present", want.svc.image)),
            )
            .await?
            .success();

    let mut steps = Vec::new();
    for d in &want.dirs {
        let ok = dirs
            .get(&d.path)
            .is_some_and(|(m, o, g)| *m == d.mode && *o == d.owner && *g == d.group);
        if !ok {
            let verb = if dirs.contains_key(&d.path) {
                "fix mode/owner of"
            } else {
                "create"
            };
            steps.push(Step::exec(
                format!(
                    "{verb} directory {} ({:o} {}:{})",
                    d.path, d.mode, d.owner, d.group
                ),
                format!(
                    "install -d -m {:o} -o {} -g {} {}",
                    d.mode,
                    quote(&d.owner),
                    quote(&d.group),
                    quote(&d.path)
                ),
            ));
        }
    }

    let mut config_changed = false;
    let mut unit_changed = false;
    for f in &all_files {
        let change = compare(f, file_states.get(&f.path).and_then(|s| s.as_ref()));
        if change == FileChange::None {
            continue;
        }
        if f.path == unit.path {
            unit_changed = true;
        } else if change != FileChange::Metadata {
            config_changed = true;
        }
        let old = if change == FileChange::Content && !f.secret {
            host.remote.read_file(&f.path, true).await?
        } else {
            None
        };
        steps.push(files::write_step(f, change, old.as_deref()));
    }

    let rt = container::binary(want.svc.runtime);
    if !image_present {
        let tls = if want.insecure_registry && want.svc.runtime == RuntimeKind::Podman {
            " --tls-verify=false"
        } else {
            ""
        };
        steps.push(Step::exec_timeout(
            format!("pull image {}", want.svc.image),
            format!("{rt} pull{tls} {}", quote(&want.svc.image)),
            900,
        ));
    }
    let unit_name = want.svc.unit_name();
    if unit_changed || !unit_state.exists() {
        steps.push(Step::exec(
            "systemctl daemon-reload (unit changed)",
            "systemctl daemon-reload",
        ));
    }
    if !unit_state.is_enabled() {
        steps.push(Step::exec(
            format!("enable {unit_name}"),
            systemctl("enable", &unit_name),
        ));
    }
    let started = if !unit_state.is_active() {
        steps.push(Step::exec(
            format!("start {unit_name}"),
            systemctl("start", &unit_name),
        ));
        true
    } else if unit_changed || config_changed || !image_present {
        let why = if unit_changed {
            "unit changed"
        } else if config_changed {
            "config changed"
        } else {
            "new image"
        };
        steps.push(Step::exec(
            format!("restart {unit_name} ({why})"),
            systemctl("restart", &unit_name),
        ));
        true
    } else {
        false
    };
    if started {
        steps.push(Step::verify(
            format!("{unit_name} stays active"),
            stays_active_script(&unit_name),
            60,
        ));
    }
    Ok(steps)
}

/// Wait until the unit is active and still active 2 s later (a crash-looping container flips
/// between activating and failed); print the journal tail when it is not.
pub fn stays_active_script(unit: &str) -> String {
    let u = quote(unit);
    format!(
        "i=0; until systemctl is-active --quiet {u}; do i=$((i+1)); [ $i -ge 60 ] && break; sleep 0.5; done\n\
         n=$(systemctl show -p NRestarts --value {u}); sleep 2\n\
         if systemctl is-active --quiet {u} && [ \"$(systemctl show -p NRestarts --value {u})\" = \"$n\" ]; then exit 0; fi\n\
         printf '%s did not stay active (%s):\\n' {u} \"$(systemctl is-active {u})\" >&2; journalctl -u {u} -n 15 --no-pager -o cat >&2; exit 1"
    )
}

/// Installed / version (image tag) / healthy for a container service.
pub async fn status(host: &RemoteHost, want: &ServiceDesired) -> anyhow::Result<HostStatus> {
    let rt = container::binary(want.svc.runtime);
    let fmt = match want.svc.runtime {
        RuntimeKind::Podman => "{{.ImageName}}",
        RuntimeKind::Docker => "{{.Config.Image}}",
    };
    let script = format!(
        "{}\nprintf 'image.running=%s\\n' \"$({rt} inspect --format {} {} 2>/dev/null)\"\n",
        systemd::probe_script(&want.svc.unit_name()),
        quote(fmt),
        quote(&want.svc.name)
    );
    let out = host
        .remote
        .exec(
            &Cmd::read(script)
                .sudo()
                .label(&format!("status {}", want.svc.name)),
        )
        .await?;
    let st = systemd::parse_probe(&out.stdout);
    let running = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("image.running="))
        .unwrap_or("")
        .trim()
        .to_string();
    let version = if running.is_empty() {
        None
    } else {
        running.rsplit_once(':').map(|(_, t)| t.to_string())
    };
    let installed = st.exists();
    let healthy = st.is_active() && !running.is_empty();
    let message = if !installed {
        "not installed".to_string()
    } else if healthy {
        if running != want.svc.image {
            format!(
                "active since {}; running {running}, config wants {}",
                st.since, want.svc.image
            )
        } else {
            format!("active since {}", st.since)
        }
    } else {
        let tail = st.journal_tail.last().cloned().unwrap_or_default();
        format!(
            "{} ({}){}",
            st.active,
            st.sub,
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {tail}")
            }
        )
    };
    Ok(HostStatus {
        installed,
        version,
        healthy,
        message,
    })
}

/// Stop, disable and remove the unit. Data directories and config are kept (say so).
pub async fn uninstall_plan(host: &RemoteHost, want: &ServiceDesired) -> anyhow::Result<Vec<Step>> {
    let st = systemd::state(host.remote.as_ref(), &want.svc.unit_name()).await?;
    let unit = want.svc.unit_name();
    let mut steps = Vec::new();
    if st.is_active() {
        steps.push(Step::exec(format!("stop {unit}"), systemctl("stop", &unit)));
    }
    if st.is_enabled() {
        steps.push(Step::exec(
            format!("disable {unit}"),
            systemctl("disable", &unit),
        ));
    }
    if st.exists() {
        steps.push(Step::exec(
            format!(
                "remove {} (data in {} kept)",
                want.unit_path(),
                want.dirs
                    .iter()
                    .map(|d| d.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "rm -f {} && systemctl daemon-reload",
                quote(&want.unit_path())
            ),
        ));
    }
    Ok(steps)
}
