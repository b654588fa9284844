//! `foundry storage remove`: take one dataset of `storage.truenas.datasets` out of foundry's
//! hands. Always: delete its NFS share(s) (path `/mnt/<pool>/<name>`). With `--destroy-data`:
//! also destroy the dataset (`pool.dataset.delete`, recursive when it has children or
//! snapshots, which the user was shown). The stack.yaml entry goes last (commands/storage.rs,
//! with `stack_edit`). Each step reads first and treats "already gone" as done, so a re-run
//! after a failure finishes the job.
//!
//! The pure parts (which entry, which confirmation, what is shown) are here with their tests;
//! the calls are `read` and `execute`.

use super::client::Client;
use super::datasets::Dataset;
use super::error::TruenasError;
use super::nfs::NfsShare;
use super::size::human;
use crate::config::TruenasConfig;

/// The stack.yaml entry being removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index in `storage.truenas.datasets`.
    pub index: usize,
    /// As written there (relative to the pool, slashes trimmed): `k8s/volumes`.
    pub name: String,
    /// `tank/k8s/volumes`
    pub id: String,
    /// `/mnt/tank/k8s/volumes`
    pub path: String,
}

/// Find `arg` (`k8s/volumes` or `tank/k8s/volumes`) among the configured datasets. A name as
/// written in stack.yaml wins over the `pool/…` reading.
pub fn resolve(t: &TruenasConfig, arg: &str) -> Result<Target, String> {
    let want = arg.trim().trim_matches('/');
    let names: Vec<String> = t
        .datasets
        .iter()
        .map(|d| d.name.trim_matches('/').to_string())
        .collect();
    let rel = want.strip_prefix(&format!("{}/", t.pool));
    let index = names
        .iter()
        .position(|n| n == want)
        .or_else(|| rel.and_then(|r| names.iter().position(|n| n == r)));
    let Some(index) = index else {
        let hint =
            crate::config::suggest::hint(rel.unwrap_or(want), names.iter().map(|s| s.as_str()));
        return Err(format!(
            "`{arg}` is not in storage.truenas.datasets{hint} (configured: {}); foundry only removes datasets listed there",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    };
    let name = names[index].clone();
    let id = super::dataset_id(&t.pool, &name);
    Ok(Target {
        index,
        path: super::mount_path(&id),
        name,
        id,
    })
}

/// Other configured datasets inside `target` (their full names). Destroying `target` would
/// destroy them too, while stack.yaml still lists them: refused.
pub fn configured_inside(t: &TruenasConfig, target: &Target) -> Vec<String> {
    let prefix = format!("{}/", target.id);
    t.datasets
        .iter()
        .map(|d| super::dataset_id(&t.pool, &d.name))
        .filter(|id| id.starts_with(&prefix))
        .collect()
}

/// What the confirmation step must do once the state has been read and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Confirmed already (`--yes`, `--confirm`), or a dry run.
    Go,
    /// Ask on the terminal; the user must type this word.
    Ask(String),
}

/// Decide, before anything is contacted, how the removal is confirmed. Destroying data needs
/// the full dataset name: typed on a terminal, or `--confirm NAME`; `--yes` is not enough.
/// Deleting only the share needs `--yes`, `--confirm NAME`, or a typed `yes`.
pub fn gate(
    destroy: bool,
    dry_run: bool,
    yes: bool,
    confirm: Option<&str>,
    tty: bool,
    id: &str,
) -> Result<Gate, String> {
    if dry_run {
        return Ok(Gate::Go);
    }
    if let Some(c) = confirm {
        return if c.trim() == id {
            Ok(Gate::Go)
        } else {
            Err(format!(
                "--confirm `{c}` is not the dataset's full name `{id}`; nothing changed"
            ))
        };
    }
    if destroy {
        if yes {
            return Err(format!(
                "--yes does not confirm destroying data: pass --confirm {id} (the full dataset name), or run on a terminal without --yes and type it; nothing changed"
            ));
        }
        if tty {
            return Ok(Gate::Ask(id.to_string()));
        }
        return Err(format!(
            "destroying {id} needs a typed confirmation and standard input is not a terminal: pass --confirm {id} (--yes alone is not enough for destroying data; --dry-run shows what would be lost); nothing changed"
        ));
    }
    if yes {
        return Ok(Gate::Go);
    }
    if tty {
        return Ok(Gate::Ask("yes".into()));
    }
    Err(format!(
        "removing {id} from foundry needs confirmation and standard input is not a terminal: pass --yes (or --dry-run to only see the steps); nothing changed"
    ))
}

/// What destroying the dataset loses.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    /// ZFS `used`: the dataset with its children and snapshots.
    pub used: Option<u64>,
    /// Child datasets (full names), destroyed with it.
    pub children: Vec<String>,
    /// Snapshots of the dataset and its children; None when TrueNAS did not say.
    pub snapshots: Option<u64>,
}

/// The state read from TrueNAS for one removal, and what will be done about it.
#[derive(Debug, Clone)]
pub struct Removal {
    pub target: Target,
    pub destroy: bool,
    /// The NFS shares whose path is the dataset's mountpoint.
    pub shares: Vec<NfsShare>,
    /// None: the dataset does not exist (already destroyed, or never created).
    pub dataset: Option<Dataset>,
    /// Set with `destroy` when the dataset exists.
    pub loss: Option<Loss>,
}

impl Removal {
    /// Children or snapshots (or an unknown number of them) need `recursive: true`.
    pub fn recursive(&self) -> bool {
        self.loss
            .as_ref()
            .is_some_and(|l| !l.children.is_empty() || l.snapshots != Some(0))
    }

    /// Whether the dataset is destroyed by this run.
    pub fn destroys(&self) -> bool {
        self.destroy && self.dataset.is_some()
    }

    /// One line per step, in the order they run (stack.yaml last).
    pub fn steps(&self, stack_file: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.shares.is_empty() {
            out.push(format!(
                "NFS share of {}: none (nothing to delete)",
                self.target.path
            ));
        }
        for s in &self.shares {
            out.push(format!("delete NFS share {} ({})", s.id, share_who(s)));
        }
        if self.destroy {
            match (&self.dataset, &self.loss) {
                (Some(_), Some(l)) => out.push(format!(
                    "destroy dataset {}{}",
                    self.target.id,
                    if self.recursive() {
                        format!(
                            " with its {} (recursive)",
                            what_inside(l.children.len(), l.snapshots)
                        )
                    } else {
                        String::new()
                    }
                )),
                _ => out.push(format!(
                    "dataset {}: not there (nothing to destroy)",
                    self.target.id
                )),
            }
        } else {
            out.push(format!("keep dataset {} and its data", self.target.id));
        }
        out.push(format!(
            "remove `{}` from storage.truenas.datasets in {stack_file}",
            self.target.name
        ));
        out
    }

    /// The "this is what you lose" block shown before the confirmation, when data goes.
    pub fn loss_text(&self) -> Option<String> {
        let l = self.loss.as_ref().filter(|_| self.destroys())?;
        let mut s = format!(
            "THIS DESTROYS DATA on TrueNAS; it cannot be undone:\n  dataset:   {}\n  used:      {} (with its children and snapshots)\n",
            self.target.id,
            l.used.map(human).unwrap_or_else(|| "unknown".into())
        );
        s.push_str(&format!("  children:  {}", l.children.len()));
        if !l.children.is_empty() {
            let shown: Vec<&str> = l.children.iter().take(5).map(|c| c.as_str()).collect();
            s.push_str(&format!(
                " ({}{})",
                shown.join(", "),
                if l.children.len() > 5 { ", …" } else { "" }
            ));
        }
        s.push('\n');
        s.push_str(&format!(
            "  snapshots: {}\n",
            l.snapshots
                .map(|n| n.to_string())
                .unwrap_or_else(|| "unknown (TrueNAS did not say; they go too)".into())
        ));
        Some(s)
    }
}

fn what_inside(children: usize, snapshots: Option<u64>) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = Vec::new();
    if children > 0 {
        parts.push(plural(children as u64, "child dataset", "child datasets"));
    }
    match snapshots {
        Some(0) => {}
        Some(n) => parts.push(plural(n, "snapshot", "snapshots")),
        None => parts.push("snapshots (number unknown)".into()),
    }
    parts.join(" and ")
}

fn share_who(s: &NfsShare) -> String {
    let mut who: Vec<String> = s.networks.clone();
    who.extend(s.hosts.iter().cloned());
    format!(
        "{}, to {}",
        s.path,
        if who.is_empty() {
            "everyone".to_string()
        } else {
            who.join(", ")
        }
    )
}

/// Read what the removal acts on (queries only): the shares of the dataset's path, the dataset,
/// and with `destroy` its children and snapshot counts.
pub async fn read(c: &Client, target: &Target, destroy: bool) -> Result<Removal, TruenasError> {
    let shares: Vec<NfsShare> = c
        .nfs_shares()
        .await?
        .into_iter()
        .filter(|s| s.path.trim_end_matches('/') == target.path)
        .collect();
    let dataset = c.dataset(&target.id).await?;
    let mut loss = None;
    if destroy {
        if let Some(d) = &dataset {
            let prefix = format!("{}/", target.id);
            let children: Vec<String> = c
                .datasets(&d.pool)
                .await?
                .into_iter()
                .map(|x| x.id)
                .filter(|id| id.starts_with(&prefix))
                .collect();
            let mut snapshots = Some(0u64);
            for id in std::iter::once(&target.id).chain(children.iter()) {
                match c.snapshot_count(id).await {
                    Ok(n) => snapshots = snapshots.map(|s| s + n),
                    // A TrueNAS that does not answer this (role, version): unknown, not fatal.
                    Err(e) if e.rpc().is_some() => {
                        snapshots = None;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            loss = Some(Loss {
                used: d.used,
                children,
                snapshots,
            });
        }
    }
    Ok(Removal {
        target: target.clone(),
        destroy,
        shares,
        dataset,
        loss,
    })
}

/// Run the TrueNAS steps in order: shares, then the dataset. `done` gets one line per finished
/// step; the first failure stops (what was done is in `done`).
pub async fn execute(
    c: &Client,
    r: &Removal,
    done: &mut dyn FnMut(String),
) -> Result<(), TruenasError> {
    for s in &r.shares {
        let now = c.delete_nfs_share(s.id).await?;
        done(if now {
            format!("deleted NFS share {} ({})", s.id, s.path)
        } else {
            format!("NFS share {} ({}) was already gone", s.id, s.path)
        });
    }
    if r.destroys() {
        let now = c.delete_dataset(&r.target.id, r.recursive()).await?;
        done(if now {
            format!("destroyed dataset {}", r.target.id)
        } else {
            format!("dataset {} was already gone", r.target.id)
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatasetConfig;

    fn cfg(names: &[&str]) -> TruenasConfig {
        let mut t: TruenasConfig =
            serde_yaml::from_str("url: https://nas\napi_key: x\npool: tank\n").unwrap();
        t.datasets = names
            .iter()
            .map(|n| DatasetConfig {
                name: n.to_string(),
                ..Default::default()
            })
            .collect();
        t
    }

    #[test]
    fn names_resolve_relative_or_full_and_unknown_ones_list_the_configured() {
        let t = cfg(&["k8s/volumes", "/zot/", "tank/inner"]);
        let r = resolve(&t, "k8s/volumes").unwrap();
        assert_eq!(
            (r.index, r.id.as_str(), r.path.as_str()),
            (0, "tank/k8s/volumes", "/mnt/tank/k8s/volumes")
        );
        assert_eq!(resolve(&t, "tank/k8s/volumes").unwrap().index, 0);
        assert_eq!(resolve(&t, "zot").unwrap().name, "zot");
        // Written relative in stack.yaml as `tank/inner`: that reading wins.
        assert_eq!(resolve(&t, "tank/inner").unwrap().id, "tank/tank/inner");
        let e = resolve(&t, "k8s/volume").unwrap_err();
        assert!(
            e.contains("configured: k8s/volumes, zot, tank/inner"),
            "{e}"
        );
        assert!(e.contains("did you mean"), "{e}");
        assert!(resolve(&t, "other/k8s/volumes").is_err());
        assert!(resolve(&cfg(&[]), "x")
            .unwrap_err()
            .contains("configured: none"));
    }

    #[test]
    fn configured_children_are_found() {
        let t = cfg(&["k8s", "k8s/volumes", "k8sx"]);
        let r = resolve(&t, "k8s").unwrap();
        assert_eq!(configured_inside(&t, &r), ["tank/k8s/volumes"]);
    }

    #[test]
    fn destroying_needs_the_full_name_and_yes_is_not_enough() {
        let id = "tank/k8s/volumes";
        let g = |destroy, dry, yes, confirm, tty| gate(destroy, dry, yes, confirm, tty, id);
        assert_eq!(g(true, false, false, Some(id), false), Ok(Gate::Go));
        assert!(g(true, false, false, Some("k8s/volumes"), false)
            .unwrap_err()
            .contains("is not the dataset's full name"));
        let e = g(true, false, true, None, false).unwrap_err();
        assert!(e.contains("--yes does not confirm"), "{e}");
        let e = g(true, false, false, None, false).unwrap_err();
        assert!(
            e.contains("--confirm tank/k8s/volumes") && e.contains("--yes alone is not enough"),
            "{e}"
        );
        assert_eq!(g(true, false, false, None, true), Ok(Gate::Ask(id.into())));
        assert_eq!(g(true, true, false, None, false), Ok(Gate::Go), "dry run");
        // Share only: --yes or a typed `yes`.
        assert_eq!(g(false, false, true, None, false), Ok(Gate::Go));
        assert_eq!(
            g(false, false, false, None, true),
            Ok(Gate::Ask("yes".into()))
        );
        assert!(g(false, false, false, None, false)
            .unwrap_err()
            .contains("pass --yes"));
        assert!(g(false, false, true, Some("nope"), false).is_err());
    }

    fn removal(destroy: bool, children: usize, snapshots: Option<u64>) -> Removal {
        let t = resolve(&cfg(&["k8s/volumes"]), "k8s/volumes").unwrap();
        let ds = Dataset::from_entry(
            &serde_json::json!({"id": "tank/k8s/volumes", "pool": "tank",
            "used": {"parsed": 3u64 << 30}}),
        )
        .unwrap();
        Removal {
            destroy,
            shares: vec![serde_json::from_value(serde_json::json!({"id": 4,
                "path": "/mnt/tank/k8s/volumes", "networks": ["10.0.0.0/24"]}))
            .unwrap()],
            dataset: Some(ds),
            loss: destroy.then(|| Loss {
                used: Some(3 << 30),
                children: (0..children)
                    .map(|i| format!("tank/k8s/volumes/pvc-{i}"))
                    .collect(),
                snapshots,
            }),
            target: t,
        }
    }

    #[test]
    fn steps_and_what_is_lost() {
        let r = removal(false, 0, None);
        assert_eq!(
            r.steps("stack.yaml"),
            [
                "delete NFS share 4 (/mnt/tank/k8s/volumes, to 10.0.0.0/24)",
                "keep dataset tank/k8s/volumes and its data",
                "remove `k8s/volumes` from storage.truenas.datasets in stack.yaml",
            ]
        );
        assert!(!r.recursive() && !r.destroys() && r.loss_text().is_none());

        let r = removal(true, 0, Some(0));
        assert!(!r.recursive());
        assert_eq!(r.steps("s")[1], "destroy dataset tank/k8s/volumes");
        let r = removal(true, 2, Some(1));
        assert!(r.recursive());
        assert_eq!(
            r.steps("s")[1],
            "destroy dataset tank/k8s/volumes with its 2 child datasets and 1 snapshot (recursive)"
        );
        let text = r.loss_text().unwrap();
        assert!(text.contains("dataset:   tank/k8s/volumes"), "{text}");
        assert!(text.contains("used:      3 GiB"), "{text}");
        assert!(
            text.contains("children:  2 (tank/k8s/volumes/pvc-0, tank/k8s/volumes/pvc-1)"),
            "{text}"
        );
        assert!(text.contains("snapshots: 1"), "{text}");
        // Snapshots unknown: recursive, and said so.
        let r = removal(true, 0, None);
        assert!(r.recursive());
        assert!(r.loss_text().unwrap().contains("snapshots: unknown"));
        // Already destroyed (a re-run): nothing to destroy, nothing shown as lost.
        let mut r = removal(true, 0, Some(0));
        r.dataset = None;
        r.loss = None;
        r.shares.clear();
        assert_eq!(
            r.steps("s")[..2],
            [
                "NFS share of /mnt/tank/k8s/volumes: none (nothing to delete)",
                "dataset tank/k8s/volumes: not there (nothing to destroy)"
            ]
        );
        assert!(r.loss_text().is_none() && !r.destroys());
    }
}
