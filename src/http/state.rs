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
}
