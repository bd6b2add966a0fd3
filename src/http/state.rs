//! What every handler shares.

use std::sync::Arc;

use sqlx::PgPool;

use super::metrics::Metrics;
use crate::auth::jwt::JwtKeys;
use crate::auth::revocation::{RevokedTokens, UserStates};
use crate::auth::throttle::LoginThrottle;
use crate::config::Settings;

pub struct AppState {
    pub pool: PgPool,
    pub settings: Settings,
    pub keys: JwtKeys,
    pub throttle: LoginThrottle,
    pub revoked: Arc<RevokedTokens>,
    pub users: Arc<UserStates>,
    pub metrics: Metrics,
    pub cursor_key: super::cursor::CursorKey,
    /// The permits of heavy requests (`http::heavy`).
    pub heavy: super::heavy::HeavyWork,
    /// Requests in flight and the shutdown's phase (`http::drain`).
    pub drain: Arc<super::drain::Drain>,
}

impl AppState {
    /// Applies on this instance, at once, a change to a user's credentials that every
    /// instance also hears of through the database: its state is read again, its revoked API
    /// tokens are refused.
    pub fn forget_credentials(&self, user: uuid::Uuid, revoked_tokens: &[uuid::Uuid]) {
        revoked_tokens.iter().for_each(|t| self.revoked.insert(*t));
        self.users.forget(user);
    }
}
