//! foundry-generated login keys: make an ed25519 key, install its public half in a remote
//! user's authorized_keys, keep the private half in `~/.foundry/keys/` (0600).

use super::cmd::Cmd;
use super::quote::quote;
use super::session::Session;
use anyhow::Context;
use rand::RngCore;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::ssh_key::{LineEnding, PrivateKey};
use std::path::Path;

/// A fresh key. The private half stays a `PrivateKey` (wiped on drop) until it is written.
pub struct GeneratedKey {
    pub key: PrivateKey,
    /// `ssh-ed25519 AAAA... comment`
    pub public_openssh: String,
}

/// Generate an ed25519 key (seed from the OS RNG).
pub fn generate_ed25519(comment: &str) -> anyhow::Result<GeneratedKey> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let pair = Ed25519Keypair::from_seed(&seed);
    seed.fill(0);
    let key =
        PrivateKey::new(KeypairData::Ed25519(pair), comment).context("building the ed25519 key")?;
    let public_openssh = key
        .public_key()
        .to_openssh()
        .context("encoding the public key")?;
    Ok(GeneratedKey {
        key,
        public_openssh,
    })
}

/// Write the private key to `path` (mode 0600, parent directory created 0700). Refuses to
/// overwrite an existing file: that key may be the only way into some host.
pub fn save_private_key(key: &GeneratedKey, path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            crate::paths::private_dir(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("chmod 700 {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "creating key file {} (remove it first if it is stale)",
                path.display()
            )
        })?;
    let text = key
        .key
        .to_openssh(LineEnding::LF)
        .context("encoding the private key")?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    let public = std::path::PathBuf::from(format!("{}.pub", path.display()));
    std::fs::write(&public, format!("{}\n", key.public_openssh))
        .with_context(|| format!("writing {}", public.display()))?;
    Ok(())
}

/// The remote script that adds `public_line` to the login user's `~/.ssh/authorized_keys`
/// unless the key is already there (matched by its base64 body, whatever the comment).
pub(crate) fn authorize_script(public_line: &str) -> String {
    let body = public_line.split_whitespace().nth(1).unwrap_or(public_line);
    format!(
        "set -e\numask 077\nd=\"$HOME/.ssh\"; f=\"$d/authorized_keys\"\nmkdir -p \"$d\"\nchmod 700 \"$d\"\ntouch \"$f\"\nchmod 600 \"$f\"\n\
         if grep -qF -- {body} \"$f\"; then echo present; exit 0; fi\n\
         if [ -s \"$f\" ] && [ -n \"$(tail -c 1 \"$f\")\" ]; then echo >> \"$f\"; fi\n\
         printf '%s\\n' {line} >> \"$f\"\necho added\n",
        body = quote(body),
        line = quote(public_line.trim()),
    )
}

/// Install `public_line` for the session's login user. Returns true when it was added, false
/// when it was already there.
pub async fn authorize_key(s: &Session, public_line: &str) -> anyhow::Result<bool> {
    let out = s
        .exec(
            &Cmd::mutate(authorize_script(public_line))
                .label("install key in ~/.ssh/authorized_keys"),
        )
        .await?;
    let out = out.check(&format!(
        "{}: installing the key in ~/.ssh/authorized_keys",
        s.target().label()
    ))?;
    Ok(out.stdout.trim() == "added")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_and_is_saved_private() {
        use std::os::unix::fs::PermissionsExt;
        let k = generate_ed25519("foundry@test").unwrap();
        assert!(k.public_openssh.starts_with("ssh-ed25519 AAAA"));
        assert!(k.public_openssh.ends_with(" foundry@test"));
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("keys/h1");
        save_private_key(&k, &p).unwrap();
        let parsed = PrivateKey::from_openssh(std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(parsed.public_key().to_openssh().unwrap(), k.public_openssh);
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(p.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        assert!(save_private_key(&k, &p).is_err(), "must not overwrite");
        // Two keys differ (the RNG is used).
        assert_ne!(
            generate_ed25519("x").unwrap().public_openssh,
            generate_ed25519("x").unwrap().public_openssh
        );
    }

    #[test]
    fn authorize_script_is_idempotent_locally() {
        let d = tempfile::tempdir().unwrap();
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPh3Xcmw/+CikKcSVVhRxp9dSRNN2iVnqde/rn3AFAW8 it's me";
        let run = || {
            let o = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(authorize_script(line))
                .env("HOME", d.path())
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        std::fs::create_dir_all(d.path().join(".ssh")).unwrap();
        std::fs::write(
            d.path().join(".ssh/authorized_keys"),
            "ssh-ed25519 OTHER no-newline",
        )
        .unwrap();
        assert_eq!(run(), "added");
        assert_eq!(run(), "present");
        let text = std::fs::read_to_string(d.path().join(".ssh/authorized_keys")).unwrap();
        assert_eq!(text, format!("ssh-ed25519 OTHER no-newline\n{line}\n"));
    }
}
