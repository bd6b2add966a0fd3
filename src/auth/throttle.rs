//! Login throttling: too many failures for one email or one client address within the window
//! answers `429` with `Retry-After` until the window passes. The failures are counted in the
//! database (`db::logins`), so the limits hold across every instance that serves it.

use std::time::Duration;

use sqlx::PgPool;

pub struct LoginThrottle {
    max_per_email: u32,
    max_per_ip: u32,
    window: Duration,
}

/// The key of a count: its kind and a SHA-256 of the value, so that the table holds no email
/// or address in clear (a hash, not a secret: an address can be found again by trying them
/// all) and any text the request sent, a NUL included, makes a key.
pub fn key(kind: &str, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.as_bytes());
    format!("{kind}:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn email_key(email: &str) -> String {
    key("email", &email.to_lowercase())
}

fn ip_key(ip: &str) -> String {
    key("ip", ip)
}

impl LoginThrottle {
    pub fn new(max_per_email: u32, max_per_ip: u32, window: Duration) -> Self {
        LoginThrottle { max_per_email, max_per_ip, window }
    }

    /// `Ok(Err(seconds))` when this email or address must wait that long.
    pub async fn check(&self, pool: &PgPool, email: &str, ip: &str) -> Result<Result<(), u64>, sqlx::Error> {
        let limit = |max: u32| i32::try_from(max).unwrap_or(i32::MAX);
        let limits = [(email_key(email), limit(self.max_per_email)), (ip_key(ip), limit(self.max_per_ip))];
        Ok(match crate::db::logins::wait(pool, &limits, self.window).await? {
            Some(seconds) => Err(seconds.max(1).unsigned_abs()),
            None => Ok(()),
        })
    }

    pub async fn record_failure(&self, pool: &PgPool, email: &str, ip: &str) -> Result<(), sqlx::Error> {
        crate::db::logins::record_failure(pool, &[email_key(email), ip_key(ip)], self.window).await
    }

    /// A successful login clears the email's failures (not the address's).
    pub async fn record_success(&self, pool: &PgPool, email: &str) -> Result<(), sqlx::Error> {
        crate::db::logins::clear(pool, &email_key(email)).await
    }
}
