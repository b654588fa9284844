//! The Zot admin password: generated once, kept in OpenBao at `<instance>/zot/admin` (key
//! `password`), registered with the redactor the moment it is known. This file is the only place
//! the Zot component talks to OpenBao.

use crate::component::RunCtx;
use crate::redact;

pub const KEY: &str = "password";
/// Generated password length (alphanumeric: safe in htpasswd, curl configs and registries.yaml).
pub const LEN: usize = 32;

/// The secret's path below the instance (the store prefixes `<instance>/`).
pub const PATH: &str = "zot/admin";

/// Where it lives, for messages: `<instance>/zot/admin`.
pub fn path(instance: &str) -> String {
    format!("{instance}/{PATH}")
}

/// What `prepare` learned about the password.
#[derive(Clone)]
pub enum AdminPassword {
    /// In OpenBao (read, or generated and stored by this run).
    Known(String),
    /// Dry run and not in OpenBao yet: it would be generated.
    WouldGenerate,
    /// Dry run and OpenBao could not be asked: the plan cannot say whether htpasswd changes.
    Unknown(String),
}

impl std::fmt::Debug for AdminPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminPassword::Known(_) => f.write_str("Known(***)"),
            AdminPassword::WouldGenerate => f.write_str("WouldGenerate"),
            AdminPassword::Unknown(e) => write!(f, "Unknown({e})"),
        }
    }
}

/// Read the password (read-only). Missing: `WouldGenerate` with the line a plan shows. OpenBao
/// not answering is an error, except in a dry run (then `Unknown`, and the plan says so).
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
    Ok(match store.get(PATH, KEY).await? {
        Some(pw) => {
            redact::register(&pw);
            (AdminPassword::Known(pw), None)
        }
        None => (
            AdminPassword::WouldGenerate,
            Some(format!(
                "would generate the Zot admin password and store it in OpenBao at {p}"
            )),
        ),
    })
}

/// Generate and store the password when it is still missing; returns it with the line to
/// report when this run created it.
pub async fn ensure(ctx: &RunCtx) -> anyhow::Result<(AdminPassword, Option<String>)> {
    let p = path(&ctx.instance);
    let store = ctx.openbao().await.map_err(|e| {
        e.context(format!(
            "zot needs OpenBao for its admin password ({p}:{KEY}); install the openbao component first"
        ))
    })?;
    let (pw, created) = store.get_or_generate(PATH, KEY, LEN).await?;
    redact::register(&pw);
    let line =
        created.then(|| format!("generated the Zot admin password, stored in OpenBao at {p}"));
    Ok((AdminPassword::Known(pw), line))
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
