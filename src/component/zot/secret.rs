//! The Zot admin password: generated once, kept in OpenBao at `<instance>/zot/admin` (key
//! `password`, with its bcrypt hash and the hash's binding to it beside it), registered with the
//! redactor the moment it is known. This file is the only place the Zot component talks to
//! OpenBao.

use super::htpasswd;
use crate::component::RunCtx;
use crate::redact;
use std::collections::BTreeMap;

pub const KEY: &str = "password";
/// Generated password length (alphanumeric: safe in htpasswd, curl configs and registries.yaml).
pub const LEN: usize = 32;

/// The secret's path below the instance (the store prefixes `<instance>/`).
pub const PATH: &str = "zot/admin";

/// Where it lives, for messages: `<instance>/zot/admin`.
pub fn path(instance: &str) -> String {
    format!("{instance}/{PATH}")
}

/// Key of the bcrypt hash made from the password (the htpasswd line is `admin_user:hash`).
pub const HASH_KEY: &str = "htpasswd_hash";
/// Key of [`htpasswd::binding`] of password and hash: tells whether the hash is still the
/// password's without running bcrypt.
pub const BINDING_KEY: &str = "htpasswd_binding";

/// What `prepare` learned about the password.
#[derive(Clone)]
pub enum AdminPassword {
    /// In OpenBao with a hash made from it (read, or made and stored by this run).
    Known { password: String, hash: String },
    /// In OpenBao, but no hash is stored for it (first run of a stack whose password was set
    /// by hand, or changed behind foundry's back): this run hashes it and stores the hash.
    NeedsHash(String),
    /// Dry run and not in OpenBao yet: it would be generated.
    WouldGenerate,
    /// Dry run and OpenBao could not be asked: the plan cannot say whether htpasswd changes.
    Unknown(String),
}

impl std::fmt::Debug for AdminPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminPassword::Known { .. } => f.write_str("Known(***)"),
            AdminPassword::NeedsHash(_) => f.write_str("NeedsHash(***)"),
            AdminPassword::WouldGenerate => f.write_str("WouldGenerate"),
            AdminPassword::Unknown(e) => write!(f, "Unknown({e})"),
        }
    }
}

/// The state of the secret's keys, with the password and hash registered for redaction.
fn classify(data: &BTreeMap<String, String>) -> AdminPassword {
    let Some(pw) = data.get(KEY) else {
        return AdminPassword::WouldGenerate;
    };
    redact::register(pw);
    match (data.get(HASH_KEY), data.get(BINDING_KEY)) {
        (Some(hash), Some(b)) if *b == htpasswd::binding(pw, hash) => {
            redact::register(hash);
            AdminPassword::Known {
                password: pw.clone(),
                hash: hash.clone(),
            }
        }
        _ => AdminPassword::NeedsHash(pw.clone()),
    }
}

/// Read the password and its hash (read-only): one GET. Missing: `WouldGenerate` with the line
/// a plan shows. OpenBao not answering is an error, except in a dry run (then `Unknown`, and
/// the plan says so).
pub async fn read(ctx: &RunCtx) -> anyhow::Result<(AdminPassword, Option<String>)> {
    let p = path(&ctx.instance);
    let store = match ctx.openbao().await {
        Ok(s) => s,
        Err(e) if ctx.dry_run => {
            let why = format!("{e:#}");
            return Ok((
                AdminPassword::Unknown(why.clone()),
                Some(format!("cannot read the Zot admin password from OpenBao ({why}): htpasswd shown as changing")),
            ));
        }
        Err(e) => {
            return Err(e.context(format!(
                "zot needs OpenBao for its admin password ({p}:{KEY}); install the openbao component first"
            )))
        }
    };
    let state = classify(&store.get_all(PATH).await?.unwrap_or_default());
    let line = match state {
        AdminPassword::WouldGenerate => Some(format!(
            "would generate the Zot admin password and store it in OpenBao at {p}"
        )),
        AdminPassword::NeedsHash(_) => Some(format!(
            "would hash the Zot admin password for htpasswd and store the hash in OpenBao at {p}"
        )),
        _ => None,
    };
    Ok((state, line))
}

/// Generate and store the password when it is still missing, and its bcrypt hash when none
/// matches it; returns both with the line to report when this run stored anything.
pub async fn ensure(ctx: &RunCtx) -> anyhow::Result<(AdminPassword, Option<String>)> {
    let p = path(&ctx.instance);
    let store = ctx.openbao().await.map_err(|e| {
        e.context(format!(
            "zot needs OpenBao for its admin password ({p}:{KEY}); install the openbao component first"
        ))
    })?;
    let (pw, created) = store.get_or_generate(PATH, KEY, LEN).await?;
    redact::register(&pw);
    let data = store.get_all(PATH).await?.unwrap_or_default();
    // The password read back, not the one generated: a concurrent writer's value wins.
    if let AdminPassword::Known { password, hash } = classify(&data) {
        if password == pw {
            return Ok((AdminPassword::Known { password, hash }, None));
        }
    }
    let hash = htpasswd::hash(&pw)?;
    let binding = htpasswd::binding(&pw, &hash);
    store
        .put_many(
            PATH,
            BTreeMap::from([
                (HASH_KEY.to_string(), hash.clone()),
                (BINDING_KEY.to_string(), binding),
            ]),
        )
        .await?;
    let line = if created {
        format!(
            "generated the Zot admin password, stored it and its htpasswd hash in OpenBao at {p}"
        )
    } else {
        format!("hashed the Zot admin password for htpasswd, stored the hash in OpenBao at {p}")
    };
    Ok((AdminPassword::Known { password: pw, hash }, Some(line)))
}

/// Read-only lookup for `status`: None when it is not stored (yet).
pub async fn lookup(ctx: &RunCtx) -> anyhow::Result<Option<String>> {
    let store = ctx.openbao().await?;
    let pw = store.get(PATH, KEY).await?;
    if let Some(p) = &pw {
        redact::register(p);
    }
    Ok(pw)
}
