//! The htpasswd file Zot authenticates against: one bcrypt line for the admin user.
//!
//! bcrypt is salted and deliberately slow (cost 12 is ~0.3 s of CPU), so foundry hashes the
//! password once and keeps the hash in OpenBao next to it (see `secret.rs`); every host gets
//! `user:hash` byte for byte and a re-run compares bytes instead of verifying a hash. A new
//! hash is made only when the password changed or none is stored.

use bcrypt::Version;
use sha2::{Digest, Sha256};

/// bcrypt cost: the `bcrypt` crate's default (12), the same as `htpasswd -B -C 12`.
const COST: u32 = bcrypt::DEFAULT_COST;

/// A fresh `$2y$...` hash of `password`. `$2y$` is what Apache's `htpasswd -B` writes; Go's
/// `x/crypto/bcrypt` (used by Zot and by distribution) accepts it.
pub fn hash(password: &str) -> anyhow::Result<String> {
    Ok(bcrypt::hash_with_result(password, COST)?.format_for_version(Version::TwoY))
}

/// The file's content: one line for `user`.
pub fn content(user: &str, hash: &str) -> Vec<u8> {
    format!("{user}:{hash}\n").into_bytes()
}

/// Binds a stored hash to the password it was made from, so a password changed in OpenBao
/// behind foundry's back (`bao kv patch`, `secret set`) is noticed without running bcrypt:
/// hex SHA-256 over a label, the password and the hash. Kept in OpenBao beside the password
/// itself, so it tells a reader nothing the password does not.
pub fn binding(password: &str, hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"foundry zot htpasswd v1\0");
    h.update(password.as_bytes());
    h.update(b"\0");
    h.update(hash.as_bytes());
    hex::encode(h.finalize())
}

/// True when `hash` is a bcrypt hash of `password` (the slow check; tests and diagnostics).
pub fn verifies(hash: &str, password: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_hash_is_2y_bcrypt_that_verifies() {
        let h = hash("s3cret-pass").unwrap();
        assert!(h.starts_with("$2y$12$"), "{h}");
        assert!(verifies(&h, "s3cret-pass"));
        assert!(!verifies(&h, "other"));
        assert_eq!(content("admin", &h), format!("admin:{h}\n").into_bytes());
    }

    #[test]
    fn binding_changes_with_the_password_and_with_the_hash() {
        let h = "$2y$12$abcdefghijklmnopqrstuuOQ2Bfq3v3Gq1m0b1kKf3dVx0eYpQe2";
        let b = binding("pw-one", h);
        assert_eq!(b.len(), 64);
        assert_eq!(b, binding("pw-one", h), "deterministic");
        assert_ne!(b, binding("pw-two", h));
        assert_ne!(b, binding("pw-one", &h.replace('a', "b")));
        // the separator keeps ("ab", "c…") and ("a", "bc…") apart
        assert_ne!(binding("ab", "c"), binding("a", "bc"));
    }
}
