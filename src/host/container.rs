//! Container runtime helper: pick podman or docker from facts (or the config), rewrite image
//! references to a private registry, and render the systemd unit that runs a container.

use crate::config::{ImagesConfig, RuntimeChoice};
use crate::host::facts::{Facts, RuntimeKind};
use crate::host::systemd::exec_line;
use std::collections::BTreeMap;

/// The runtime to use on a host: the configured one if present, else podman, else docker.
pub fn choose(choice: RuntimeChoice, facts: &Facts) -> Result<RuntimeKind, String> {
    let has = |k: RuntimeKind| facts.runtimes.iter().any(|r| r.kind == k);
    let want = match choice {
        RuntimeChoice::Podman => Some(RuntimeKind::Podman),
        RuntimeChoice::Docker => Some(RuntimeKind::Docker),
        RuntimeChoice::Auto => None,
    };
    match want {
        Some(k) if has(k) => Ok(k),
        Some(k) => Err(format!(
            "components.runtime is {} but it is not installed on {}",
            binary(k),
            facts.hostname
        )),
        None if has(RuntimeKind::Podman) => Ok(RuntimeKind::Podman),
        None if has(RuntimeKind::Docker) => Ok(RuntimeKind::Docker),
        None => Err(format!(
            "no container runtime on {}: install podman (or docker)",
            facts.hostname
        )),
    }
}

pub fn binary(k: RuntimeKind) -> &'static str {
    match k {
        RuntimeKind::Podman => "podman",
        RuntimeKind::Docker => "docker",
    }
}

/// Rewrite `quay.io/openbao/openbao:2.7.2` to `<registry>/openbao/openbao:2.7.2` when a private
/// registry is configured. References without a registry host are Docker Hub names
/// (`library/busybox`, `busybox`) and keep their path.
pub fn rewrite_image(image: &str, images: &ImagesConfig) -> String {
    let Some(reg) = images.registry.as_deref().filter(|r| !r.is_empty()) else {
        return image.to_string();
    };
    let reg = reg.trim_end_matches('/');
    if image.starts_with(&format!("{reg}/")) {
        return image.to_string();
    }
    let (first, rest) = match image.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (image, None),
    };
    let has_host =
        rest.is_some() && (first.contains('.') || first.contains(':') || first == "localhost");
    let path = match (has_host, rest) {
        (true, Some(r)) => r.to_string(),
        (false, Some(_)) => image.to_string(),
        (_, None) => format!("library/{image}"),
    };
    format!("{reg}/{path}")
}

/// Everything needed to run one container as a systemd service.
#[derive(Debug, Clone)]
pub struct ContainerService {
    /// Unit and container name.
    pub name: String,
    pub description: String,
    pub image: String,
    pub runtime: RuntimeKind,
    /// `host:container[:ro]`
    pub volumes: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Environment variables holding secrets: variable → a root-only (0600) file on the host
    /// with the value (podman) or with `VAR=value` lines (docker, one file for all). Never on
    /// the unit's command line: podman gets them as secrets (`--secret NAME,type=env`), made
    /// from the file when the unit starts, so they are in neither `ps`, the unit file nor the
    /// container's config; docker reads its `--env-file`.
    pub secret_env: BTreeMap<String, String>,
    /// Extra `run` options (e.g. `--user`, `--cap-add`).
    pub run_opts: Vec<String>,
    /// The container's command/arguments after the image.
    pub args: Vec<String>,
    /// Mount points the service needs (`RequiresMountsFor=`): systemd mounts them first and
    /// never starts the container without them. Absolute paths of `[A-Za-z0-9._/-]` only
    /// (validation), so they are written verbatim.
    pub requires_mounts: Vec<String>,
}

impl ContainerService {
    pub fn unit_name(&self) -> String {
        format!("{}.service", self.name)
    }

    /// The podman secret that carries `var` into this service's container.
    pub fn secret_name(&self, var: &str) -> String {
        format!(
            "foundry-{}-{}",
            self.name,
            var.to_ascii_lowercase().replace('_', "-")
        )
    }

    /// The systemd unit. The container runs in the foreground under the unit (`--rm`, host
    /// network); `--replace`/`rm -f` clear a container left over by a crash.
    pub fn render_unit(&self) -> String {
        let bin = format!("/usr/bin/{}", binary(self.runtime));
        let mut run: Vec<String> = vec![
            bin.clone(),
            "run".into(),
            "--rm".into(),
            "--name".into(),
            self.name.clone(),
        ];
        match self.runtime {
            RuntimeKind::Podman => {
                run.extend([
                    "--replace".into(),
                    "--log-driver=passthrough".into(),
                    "--pull=missing".into(),
                ]);
            }
            RuntimeKind::Docker => run.push("--log-driver=journald".into()),
        }
        run.extend(["--network".into(), "host".into()]);
        for v in &self.volumes {
            run.push("--volume".into());
            run.push(v.clone());
        }
        for (k, v) in &self.env {
            run.push("--env".into());
            run.push(format!("{k}={v}"));
        }
        let mut secret_pre = String::new();
        match self.runtime {
            RuntimeKind::Podman => {
                for (var, file) in &self.secret_env {
                    let secret = self.secret_name(var);
                    // Re-made from the 0600 file at every start: a changed value (the file
                    // changes, so foundry restarts the unit) reaches the container.
                    secret_pre.push_str(&format!(
                        "ExecStartPre=-{}\nExecStartPre={}\n",
                        exec_line(&[bin.clone(), "secret".into(), "rm".into(), secret.clone()]),
                        exec_line(&[
                            bin.clone(),
                            "secret".into(),
                            "create".into(),
                            secret.clone(),
                            file.clone()
                        ]),
                    ));
                    run.push("--secret".into());
                    run.push(format!("{secret},type=env,target={var}"));
                }
            }
            RuntimeKind::Docker => {
                let mut files: Vec<&String> = self.secret_env.values().collect();
                files.dedup();
                for f in files {
                    run.push("--env-file".into());
                    run.push(f.clone());
                }
            }
        }
        run.extend(self.run_opts.iter().cloned());
        run.push(self.image.clone());
        run.extend(self.args.iter().cloned());
        let pre = match self.runtime {
            RuntimeKind::Podman => exec_line(&[
                bin.clone(),
                "rm".into(),
                "--force".into(),
                "--ignore".into(),
                self.name.clone(),
            ]),
            RuntimeKind::Docker => exec_line(&[
                bin.clone(),
                "rm".into(),
                "--force".into(),
                self.name.clone(),
            ]),
        };
        let mounts: String = self
            .requires_mounts
            .iter()
            .map(|m| format!("RequiresMountsFor={m}\n"))
            .collect();
        let stop = exec_line(&[
            bin,
            "stop".into(),
            "--time".into(),
            "10".into(),
            self.name.clone(),
        ]);
        format!(
            "# Managed by foundry: changes are overwritten on the next `foundry stack install`.\n\
             [Unit]\n\
             Description=foundry: {desc}\n\
             Wants=network-online.target\n\
             After=network-online.target\n\
             {mounts}\
             \n\
             [Service]\n\
             Type=simple\n\
             ExecStartPre=-{pre}\n\
             {secret_pre}\
             ExecStart={start}\n\
             ExecStop={stop}\n\
             Restart=on-failure\n\
             RestartSec=5\n\
             TimeoutStartSec=300\n\
             TimeoutStopSec=30\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            desc = self.description,
            start = exec_line(&run),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(reg: &str) -> ImagesConfig {
        ImagesConfig {
            registry: Some(reg.into()),
            insecure: false,
        }
    }

    #[test]
    fn rewrite_keeps_image_without_override() {
        assert_eq!(
            rewrite_image("quay.io/openbao/openbao:2.7.2", &ImagesConfig::default()),
            "quay.io/openbao/openbao:2.7.2"
        );
    }

    #[test]
    fn rewrite_replaces_registry_host() {
        let i = images("reg.lan:5000");
        assert_eq!(
            rewrite_image("quay.io/openbao/openbao:2.7.2", &i),
            "reg.lan:5000/openbao/openbao:2.7.2"
        );
        assert_eq!(
            rewrite_image("ghcr.io/project-zot/zot-linux-amd64:v2.1.22", &i),
            "reg.lan:5000/project-zot/zot-linux-amd64:v2.1.22"
        );
        assert_eq!(
            rewrite_image("localhost:5000/x/y:1", &i),
            "reg.lan:5000/x/y:1"
        );
    }

    #[test]
    fn rewrite_docker_hub_names() {
        let i = images("reg.lan:5000/");
        assert_eq!(
            rewrite_image("busybox:stable", &i),
            "reg.lan:5000/library/busybox:stable"
        );
        assert_eq!(
            rewrite_image("bitnami/redis:7", &i),
            "reg.lan:5000/bitnami/redis:7"
        );
        assert_eq!(
            rewrite_image("reg.lan:5000/a/b:1", &i),
            "reg.lan:5000/a/b:1"
        );
    }

    #[test]
    fn unit_runs_container_on_host_network() {
        let s = ContainerService {
            name: "openbao".into(),
            description: "OpenBao".into(),
            image: "quay.io/openbao/openbao:2.7.2".into(),
            runtime: RuntimeKind::Podman,
            volumes: vec!["/etc/openbao:/openbao/config:ro".into()],
            env: BTreeMap::new(),
            secret_env: BTreeMap::new(),
            run_opts: vec![],
            args: vec!["server".into()],
            requires_mounts: vec![],
        };
        let u = s.render_unit();
        assert!(u.contains("ExecStart=/usr/bin/podman run --rm --name openbao --replace --log-driver=passthrough --pull=missing --network host --volume /etc/openbao:/openbao/config:ro quay.io/openbao/openbao:2.7.2 server\n"), "{u}");
        assert!(u.contains("ExecStartPre=-/usr/bin/podman rm --force --ignore openbao\n"));
        assert!(u.contains("WantedBy=multi-user.target"));
        assert!(!u.contains("RequiresMountsFor"), "{u}");
    }

    /// A service on a mount (Zot on a TrueNAS share) requires it in its `[Unit]` section.
    #[test]
    fn required_mounts_are_unit_dependencies() {
        let s = ContainerService {
            name: "zot".into(),
            description: "Zot".into(),
            image: "zot:1".into(),
            runtime: RuntimeKind::Podman,
            volumes: vec![],
            env: BTreeMap::new(),
            secret_env: BTreeMap::new(),
            run_opts: vec![],
            args: vec![],
            requires_mounts: vec!["/var/lib/zot".into()],
        };
        let u = s.render_unit();
        let unit_section = u.split("\n[Service]").next().unwrap();
        assert!(
            unit_section.contains("\nRequiresMountsFor=/var/lib/zot\n"),
            "{u}"
        );
    }
}
