//! The htpasswd file Zot authenticates against: one bcrypt line for the admin user.
//!
//! bcrypt is salted, so hashing the same password twice gives two different files. To keep
//! `install` idempotent the existing file is kept whenever its admin line still verifies against
//! the password in OpenBao; only a missing file, a missing user or a changed password produce a
//! new hash.

use bcrypt::Version;

/// bcrypt cost: the `bcrypt` crate's default (12), the same as `htpasswd -B -C 12`.
const COST: u32 = bcrypt::DEFAULT_COST;

/// A fresh `user:$2y$...` line. `$2y$` is what Apache's `htpasswd -B` writes; Go's
/// `x/crypto/bcrypt` (used by Zot and by distribution) accepts it.
pub fn line(user: &str, password: &str) -> anyhow::Result<String> {
    let hash = bcrypt::hash_with_result(password, COST)?.format_for_version(Version::TwoY);
    Ok(format!("{user}:{hash}\n"))
}

/// True when `existing` has a line for `user` whose hash matches `password`.
pub fn verifies(existing: &[u8], user: &str, password: &str) -> bool {
    let text = String::from_utf8_lossy(existing);
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(u, _)| *u == user)
        .any(|(_, hash)| bcrypt::verify(password, hash.trim()).unwrap_or(false))
}

/// The content to install: the existing file unchanged when it already authenticates
/// `user`/`password` and holds nothing else, else a new single-line file.
pub fn desired(existing: Option<&[u8]>, user: &str, password: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(old) = existing {
        let only_user = String::from_utf8_lossy(old)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.split_once(':').is_some_and(|(u, _)| u == user));
        if only_user && verifies(old, user, password) {
            return Ok(old.to_vec());
        }
    }
    Ok(line(user, password)?.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_line_is_2y_bcrypt_that_verifies() {
        let l = line("admin", "s3cret-pass").unwrap();
        assert!(l.starts_with("admin:$2y$12$"), "{l}");
        assert!(l.ends_with('\n'));
        assert!(verifies(l.as_bytes(), "admin", "s3cret-pass"));
        assert!(!verifies(l.as_bytes(), "admin", "other"));
        assert!(!verifies(l.as_bytes(), "root", "s3cret-pass"));
    }

    #[test]
    fn existing_file_is_kept_when_it_verifies_and_replaced_otherwise() {
        let old = line("admin", "pw-one").unwrap();
        // same password: byte-identical, so the file probe sees no change
        assert_eq!(
            desired(Some(old.as_bytes()), "admin", "pw-one").unwrap(),
            old.as_bytes()
        );
        // changed password: a new hash
        let new = desired(Some(old.as_bytes()), "admin", "pw-two").unwrap();
        assert_ne!(new, old.as_bytes());
        assert!(verifies(&new, "admin", "pw-two"));
        // extra users foundry does not manage are removed
        let mixed = format!("{old}eve:$2y$12$abcdefghijklmnopqrstuv\n");
        let out = desired(Some(mixed.as_bytes()), "admin", "pw-one").unwrap();
        assert!(!String::from_utf8_lossy(&out).contains("eve:"));
        // no file yet
        assert!(verifies(
            &desired(None, "admin", "pw-one").unwrap(),
            "admin",
            "pw-one"
        ));
    }
}
