//! `cluster node remove HOST`, the host part, after the API part: stop and uninstall K3s on the
//! machine (the same script as `component uninstall k3s`: a removed server cannot rejoin until
//! its `server/db` is gone), then take the host out of stack.yaml's cluster roles (comments
//! kept) so that the next `stack install` does not join it again. A machine that cannot be
//! reached (the disk died) is not an error: the cluster side is done, stack.yaml is still
//! edited, and the warning says what is left on it.

use crate::component::k3s::phases::uninstall::{self, Leftovers};
use crate::component::k3s::roles::{self, RoleSource, CLUSTER_ROLES};
use crate::component::RunCtx;
use crate::config::roles_text;
use crate::config::{Role, StackConfig};
use crate::ssh::Cmd;
use std::time::Duration;

/// What the host part finds.
#[derive(Debug)]
pub enum HostState {
    /// Not in stack.yaml: nothing to uninstall over SSH or to edit.
    NotInStack,
    Reachable(Leftovers),
    Unreachable(String),
}

/// The stack.yaml edits of a removal, as `(index in hosts, new roles)`: the removed host loses
/// its cluster roles; every other host whose role came from the count (`cluster`) is pinned to
/// the role it has now (`cluster-control-plane` / `cluster-worker`), because one host fewer
/// would otherwise re-decide the roles and turn a running server into an agent.
pub fn role_edits(stack: &StackConfig, host: &str) -> Vec<(usize, Vec<Role>)> {
    let Some((i, h)) = stack
        .hosts
        .iter()
        .enumerate()
        .find(|(_, h)| h.hostname == host)
    else {
        return vec![];
    };
    let keep: Vec<Role> = h
        .roles
        .iter()
        .copied()
        .filter(|r| !CLUSTER_ROLES.contains(r))
        .collect();
    if keep.len() == h.roles.len() {
        return vec![];
    }
    let mut edits = vec![(i, keep)];
    for n in roles::resolve(stack) {
        if n.host == host || n.source != RoleSource::Count {
            continue;
        }
        let Some((j, other)) = stack
            .hosts
            .iter()
            .enumerate()
            .find(|(_, o)| o.hostname == n.host)
        else {
            continue;
        };
        let pinned = if n.role.is_server() {
            Role::ClusterControlPlane
        } else {
            Role::ClusterWorker
        };
        let roles: Vec<Role> = other
            .roles
            .iter()
            .map(|r| if *r == Role::Cluster { pinned } else { *r })
            .collect();
        edits.push((j, roles));
    }
    edits.sort_by_key(|e| e.0);
    edits
}

pub async fn probe(ctx: &RunCtx, host: &str) -> HostState {
    let Some(h) = ctx.stack.host(host).cloned() else {
        return HostState::NotInStack;
    };
    let remote = match ctx.host(&h).await {
        Ok(r) => r,
        Err(e) => return HostState::Unreachable(format!("{e:#}")),
    };
    match remote
        .remote
        .exec(
            &Cmd::read(uninstall::probe_script())
                .sudo()
                .label("k3s leftovers"),
        )
        .await
        .and_then(|o| o.check("k3s leftovers"))
    {
        Ok(out) => HostState::Reachable(uninstall::parse_probe(&out.stdout)),
        Err(e) => HostState::Unreachable(format!("{e:#}")),
    }
}

/// The lines `--dry-run` (and the confirmation) show for the host part.
pub fn describe(host: &str, st: &HostState, stack: &StackConfig, file: &str) -> Vec<String> {
    let mut v = Vec::new();
    match st {
        HostState::NotInStack => {
            v.push(format!("{host} is not in {file}: nothing to uninstall over SSH"))
        }
        HostState::Reachable(l) if l.is_empty() => {
            v.push(format!("{host}: nothing of K3s left on the machine"))
        }
        HostState::Reachable(l) => v.push(format!(
            "stop and uninstall K3s on {host}: {}",
            l.describe()
        )),
        HostState::Unreachable(why) => v.push(format!(
            "{host} cannot be reached ({why}): K3s stays on that machine; wipe it before it boots again"
        )),
    }
    for (i, roles) in role_edits(stack, host) {
        let why = if stack.hosts[i].hostname == host {
            "out of the cluster"
        } else {
            "its current role pinned, so one host fewer does not re-decide it"
        };
        v.push(format!(
            "set hosts[{i}].roles ({}) in {file} to {} ({why}; comments kept)",
            stack.hosts[i].hostname,
            roles_text(&roles)
        ));
    }
    v
}

/// Uninstall on the machine (when reachable and anything is left).
pub async fn uninstall(ctx: &RunCtx, host: &str, st: &HostState) -> anyhow::Result<bool> {
    let HostState::Reachable(l) = st else {
        return Ok(false);
    };
    if l.is_empty() {
        return Ok(false);
    }
    let Some(h) = ctx.stack.host(host).cloned() else {
        return Ok(false);
    };
    let remote = ctx.host(&h).await?;
    remote
        .remote
        .exec(
            &Cmd::mutate(uninstall::remove_script())
                .sudo()
                .timeout(Duration::from_secs(300))
                .label("uninstall k3s"),
        )
        .await?
        .check("uninstall k3s")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_removed_host_loses_its_cluster_roles_and_counted_hosts_keep_theirs() {
        let s: StackConfig = serde_yaml::from_str(
            "cluster: {name: c, domain: d.test, vip: 10.0.0.9}\n\
             hosts:\n\
             - {hostname: a, address: 10.0.0.1, roles: [openbao, cluster]}\n\
             - {hostname: b, address: 10.0.0.2, roles: [cluster]}\n\
             - {hostname: c, address: 10.0.0.3, roles: [cluster]}\n\
             - {hostname: d, address: 10.0.0.4, roles: [cluster-worker]}\n\
             - {hostname: z, address: 10.0.0.5, roles: [zot]}\n",
        )
        .unwrap();
        let e = role_edits(&s, "c");
        assert_eq!(
            e,
            vec![
                (0, vec![Role::Openbao, Role::ClusterControlPlane]),
                (1, vec![Role::ClusterControlPlane]),
                (2, vec![]),
            ]
        );
        // Applied, the two left are still servers (by count alone they would be server + agent).
        let mut after = s.clone();
        for (i, r) in e {
            after.hosts[i].roles = r;
        }
        let servers: Vec<String> = roles::resolve(&after)
            .into_iter()
            .filter(|n| n.role.is_server())
            .map(|n| n.host)
            .collect();
        assert_eq!(servers, ["a", "b"]);
        assert!(role_edits(&s, "z").is_empty());
        assert!(role_edits(&s, "x").is_empty());
        assert_eq!(
            role_edits(&s, "d"),
            vec![
                (0, vec![Role::Openbao, Role::ClusterControlPlane]),
                (1, vec![Role::ClusterControlPlane]),
                (2, vec![Role::ClusterControlPlane]),
                (3, vec![])
            ]
        );
        assert_eq!(roles_text(&[Role::Openbao, Role::Zot]), "[openbao, zot]");
        assert_eq!(roles_text(&[]), "[]");
    }
}
