//! Bringing an OpenBao server to "initialised, unsealed, KV v2 at secret/": the steps the
//! component's `finalize` and `foundry openbao unseal` share. Each step reads first and only
//! writes when needed, so a second run makes no mutating call.

use super::client::{Client, Health, InitResponse, KV_MOUNT};
use super::creds::{self, Credentials, Location};
use super::error::OpenbaoError;
use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often to poll while waiting.
const POLL: Duration = Duration::from_millis(500);

/// Wait until the API gives any HTTP answer (a fresh container needs a moment to listen). A
/// certificate the client rejects ends the wait at once: the server is up, waiting won't help.
pub async fn wait_for_api(client: &Client, timeout: Duration) -> Result<Health, OpenbaoError> {
    let t0 = Instant::now();
    loop {
        match client.health().await {
            Ok(h) => return Ok(h),
            Err(e @ OpenbaoError::Unreachable { .. }) if t0.elapsed() < timeout => {
                if let OpenbaoError::Unreachable { cause, .. } = &e {
                    if super::client::is_certificate_problem(cause) {
                        return Err(e);
                    }
                }
                tokio::time::sleep(POLL).await
            }
            Err(e) => return Err(e),
        }
    }
}

/// Wait until health is 200 (active). Right after unseal the server answers 429 for a moment;
/// with `standby_ok`, 429 (a raft standby) counts as ready too.
pub async fn wait_ready(
    client: &Client,
    timeout: Duration,
    standby_ok: bool,
) -> anyhow::Result<Health> {
    let t0 = Instant::now();
    loop {
        let h = client.health().await;
        match &h {
            Ok(h) if h.code == 200 || (standby_ok && h.code == 429) => return Ok(h.clone()),
            _ if t0.elapsed() >= timeout => {
                let what = match h {
                    Ok(h) => format!("health answered HTTP {}", h.code),
                    Err(e) => e.to_string(),
                };
                bail!(
                    "OpenBao at {} did not become ready within {}s ({what})",
                    client.address(),
                    timeout.as_secs()
                );
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// Wait until the cluster serves: one node active (200) and every other one active or standby
/// (429). Unseal every node before waiting: a raft node can only become active once a quorum of
/// nodes is unsealed.
pub async fn wait_cluster_ready(clients: &[&Client], timeout: Duration) -> anyhow::Result<()> {
    let t0 = Instant::now();
    loop {
        let mut codes = Vec::new();
        for c in clients {
            codes.push(match c.health().await {
                Ok(h) => Ok(h.code),
                Err(e) => Err(e.to_string()),
            });
        }
        let active = codes.iter().any(|c| matches!(c, Ok(200)));
        if active && codes.iter().all(|c| matches!(c, Ok(200 | 429))) {
            return Ok(());
        }
        if t0.elapsed() >= timeout {
            let detail: Vec<String> = clients
                .iter()
                .zip(&codes)
                .map(|(c, r)| match r {
                    Ok(code) => format!("{}: health {code}", c.address()),
                    Err(e) => e.clone(),
                })
                .collect();
            bail!(
                "OpenBao did not become ready within {}s ({})",
                timeout.as_secs(),
                detail.join("; ")
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Initialise the server when it is not: `POST /v1/sys/init`, store the root token and keys
/// (keyring, else the 0600 file), and show them once on stderr. `None` when it already was.
pub async fn ensure_initialised(
    client: &Client,
    instance: &str,
    shares: u8,
    threshold: u8,
) -> anyhow::Result<Option<(Credentials, Location)>> {
    if client.init_status().await? {
        return Ok(None);
    }
    if threshold == 0 || shares == 0 || threshold > shares {
        bail!("openbao.key_threshold ({threshold}) must be between 1 and openbao.key_shares ({shares})");
    }
    // Credentials of an earlier OpenBao of this instance (its data is gone, or stack.yaml now
    // points elsewhere): keep a copy instead of silently overwriting them.
    if let Some((_, loc)) = creds::load(instance).await? {
        let backup = backup_previous(instance).await?;
        eprintln!(
            "foundry: OpenBao at {} is not initialised but foundry holds credentials of an earlier OpenBao of instance `{instance}` ({loc}); saved them to {} before replacing them",
            client.address(),
            backup.display()
        );
    }
    let init = client.init(shares, threshold).await?;
    let c = Credentials {
        root_token: init.root_token.clone(),
        unseal_keys: init.keys.clone(),
        threshold: Some(threshold),
        address: Some(client.address().to_string()),
        created: Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
    };
    let saved = creds::save(instance, &c).await;
    announce(client.address(), &init, threshold, saved.as_ref());
    match saved {
        Ok(loc) => Ok(Some((c, loc))),
        Err(e) => Err(e.context(
            "OpenBao was initialised but foundry could not store the credentials (shown above: save them now; `foundry openbao unseal` accepts the keys on a terminal)",
        )),
    }
}

/// Copy the current credentials of `instance` to `~/.foundry/openbao/<instance>.json.replaced-<time>`.
async fn backup_previous(instance: &str) -> anyhow::Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (c, _) = creds::load(instance)
        .await?
        .context("credentials vanished")?;
    let base = creds::file_path(instance)?;
    let ts = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    let path = std::path::PathBuf::from(format!("{}.replaced-{ts}", base.display()));
    if let Some(dir) = path.parent() {
        crate::paths::private_dir(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(serde_json::to_string_pretty(&c)?.as_bytes())?;
    Ok(path)
}

/// The one time the root token and unseal keys are shown: on stderr (never stdout, never the
/// run log), with what to do with them.
fn announce(
    address: &str,
    init: &InitResponse,
    threshold: u8,
    saved: Result<&Location, &anyhow::Error>,
) {
    let bar = "=".repeat(78);
    let mut s = format!(
        "\n{bar}\nOpenBao at {address} was initialised. The root token and unseal keys are shown ONCE:\n\n  Root token:     {}\n",
        init.root_token
    );
    for (i, k) in init.keys.iter().enumerate() {
        s.push_str(&format!("  Unseal key {:<2}  {k}\n", i + 1));
    }
    s.push_str(&format!(
        "\nAny {threshold} of the {} keys unseal OpenBao after a restart. Store the token and the keys\n\
         offline now (a password manager, paper in a safe), the keys with different people if you can.\n",
        init.keys.len()
    ));
    match saved {
        Ok(loc) => s.push_str(&format!(
            "foundry keeps a copy in {loc};\n`foundry openbao unseal` uses it after a restart. Whoever reads that copy controls OpenBao.\n"
        )),
        Err(e) => s.push_str(&format!(
            "foundry could NOT store a copy ({e:#}).\nSave them now: without the keys this OpenBao cannot be unsealed after a restart.\n"
        )),
    }
    s.push_str(&bar);
    eprintln!("{s}");
}

/// Unseal with `keys` until the server reports unsealed. `false` when it already was.
/// `joining`: a raft follower that has not joined yet reports "not initialised"; unsealing it
/// with the cluster's keys is what completes its join.
pub async fn unseal_with(client: &Client, keys: &[String], joining: bool) -> anyhow::Result<bool> {
    let st = client.seal_status().await?;
    if !st.initialized && !joining {
        return Err(OpenbaoError::NotInitialised {
            address: client.address().to_string(),
        }
        .into());
    }
    if !st.sealed {
        return Ok(false);
    }
    let mut last = st;
    for (given, k) in keys.iter().enumerate() {
        last = if joining {
            unseal_joining(client, k).await?
        } else {
            client.unseal(k).await?
        };
        if !last.sealed {
            return Ok(true);
        }
        // A joining follower takes the threshold of keys, then completes its join and unseals
        // in the background: wait for that rather than start a new round of keys.
        if joining && last.t > 0 && given + 1 >= last.t as usize {
            let t0 = Instant::now();
            while t0.elapsed() < JOIN_WAIT {
                tokio::time::sleep(POLL).await;
                last = client.seal_status().await?;
                if !last.sealed {
                    return Ok(true);
                }
            }
            break;
        }
    }
    bail!(
        "OpenBao at {} is still sealed after {} key(s) (it needs {} of {}; progress {}): the keys do not belong to this OpenBao, or too few were given",
        client.address(),
        keys.len(),
        last.t,
        last.n,
        last.progress
    )
}

/// How long a raft follower may take to reach the leader (its `retry_join` runs every few s).
const JOIN_WAIT: Duration = Duration::from_secs(120);

/// One key share for a follower that is still joining: until its `retry_join` has reached the
/// leader it refuses keys with "not initialized"; keep offering the key until it takes it.
async fn unseal_joining(client: &Client, key: &str) -> anyhow::Result<super::client::SealStatus> {
    let t0 = Instant::now();
    loop {
        match client.unseal(key).await {
            Err(OpenbaoError::Api { status: 400, message, .. })
                if message.contains("not initialized") && t0.elapsed() < JOIN_WAIT =>
            {
                tokio::time::sleep(Duration::from_secs(1)).await
            }
            r => {
                return r.map_err(|e| {
                    anyhow::Error::new(e).context(format!(
                        "joining the raft cluster (tried for up to {}s; can this node reach the first node's API and cluster ports?)",
                        JOIN_WAIT.as_secs()
                    ))
                })
            }
        }
    }
}

/// Make sure a KV version 2 engine is mounted at `secret/`. `true` when it was mounted now.
/// `dry_run`: only report whether it would be.
pub async fn ensure_kv(client: &Client, dry_run: bool) -> anyhow::Result<bool> {
    match client.mount_info(KV_MOUNT).await? {
        Some(m) if m.mount_type == "kv" && m.version.as_deref() == Some("2") => Ok(false),
        Some(m) => Err(OpenbaoError::WrongMount {
            address: client.address().to_string(),
            found: format!(
                "{}{}",
                m.mount_type,
                m.version
                    .map(|v| format!(" version {v}"))
                    .unwrap_or_default()
            ),
        }
        .into()),
        None if dry_run => Ok(true),
        None => {
            let mut opts = BTreeMap::new();
            opts.insert("version".to_string(), "2".to_string());
            client.mount(KV_MOUNT, "kv", opts).await?;
            Ok(true)
        }
    }
}
