//! Argon2id password hashing, always off the actix worker threads.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

use crate::error::{ApiError, FieldError};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

pub fn validate(field: &str, password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(FieldError::new(field, format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")));
    }
    if password.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(())
}

pub fn hash_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
}

pub fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A hash of nothing in particular, verified against when the email is unknown, so a wrong
/// email costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking("rapport-dummy-password-for-timing"))
}

pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| ApiError::internal(format!("password hashing task: {e}")))
}

/// Verifies `password` against each candidate hash (or the dummy hash when there is none);
/// returns the index of the first that matches.
pub async fn verify_any(password: String, hashes: Vec<String>) -> Result<Option<usize>, ApiError> {
    tokio::task::spawn_blocking(move || {
        if hashes.is_empty() {
            let _ = verify_blocking(&password, dummy_hash());
            return None;
        }
        let mut found = None;
        for (i, h) in hashes.iter().enumerate() {
            if verify_blocking(&password, h) && found.is_none() {
                found = Some(i);
            }
        }
        found
    })
    .await
    .map_err(|e| ApiError::internal(format!("password verification task: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_blocking("correct horse");
        let b = hash_blocking("correct horse");
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse", &a));
        assert!(!verify_blocking("wrong horse", &a));
        assert!(!verify_blocking("x", "not a hash"));
    }

    #[test]
    fn password_rules() {
        assert!(validate("password", "short").is_err());
        assert!(validate("password", "long enough").is_ok());
        assert!(validate("password", "has\0nul!!").is_err());
    }
}
