//! API keys: `sw_<id>_<secret>`, the id stored in clear (to find the row), the secret only as
//! an argon2id hash in PHC form (so a leaked database does not leak usable keys).
//!
//! Verification costs one argon2 evaluation (tens of milliseconds by design); callers run it
//! off the async executor.

use crate::{ApiKey, Result, Store, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shortest secret accepted.
pub const MIN_SECRET: usize = 16;

/// Splits a key into its id and secret, or `None` if it does not have the form
/// `sw_<id>_<secret>` (id 1–32 of `[a-z0-9-]`, secret at least [`MIN_SECRET`] of
/// `[A-Za-z0-9-]`).
pub fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("sw_")?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let secret_ok = secret.len() >= MIN_SECRET
        && secret.len() <= 256
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (id_ok && secret_ok).then_some((id, secret))
}

/// 32 random bytes from the operating system, hex (64 characters).
pub fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| StoreError::Hash(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh key for `id`: 32 random bytes, hex.
pub fn generate(id: &str) -> Result<String> {
    Ok(format!("sw_{id}_{}", random_hex()?))
}

/// The argon2id PHC hash of a secret, with a random salt.
pub fn hash_secret(secret: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| StoreError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

/// Whether `secret` matches the stored PHC hash (false for an unreadable hash).
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// The stored key a bearer value stands for, if it is well-formed, known and its secret
/// matches.
pub fn authenticate(store: &dyn Store, bearer: &str) -> Result<Option<ApiKey>> {
    let Some((id, secret)) = parse(bearer) else {
        return Ok(None);
    };
    Ok(store
        .api_key(id)?
        .filter(|k| verify_secret(secret, &k.hash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_well_formed_keys() {
        assert_eq!(
            parse("sw_ops_0123456789abcdef0123"),
            Some(("ops", "0123456789abcdef0123"))
        );
        assert_eq!(parse("sw_ops_short"), None);
        assert_eq!(parse("sw_OPS_0123456789abcdef0123"), None);
        assert_eq!(parse("xx_ops_0123456789abcdef0123"), None);
        assert_eq!(parse("sw__0123456789abcdef0123"), None);
        assert_eq!(parse("sw_ops_0123456789abcdef01;3"), None);
    }

    #[test]
    fn hash_verifies_its_secret_only() {
        let key = generate("t1").unwrap();
        let (_, secret) = parse(&key).unwrap();
        let hash = hash_secret(secret).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(secret));
        assert!(verify_secret(secret, &hash));
        assert!(!verify_secret("0123456789abcdef0123", &hash));
        assert!(!verify_secret(secret, "not a hash"));
    }
}
