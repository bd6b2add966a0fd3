//! What every handler shares.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::jwt::JwtKeys;
use crate::auth::revocation::{RevokedTokens, UserStates};
use crate::auth::throttle::LoginThrottle;
use crate::config::Settings;
use crate::http::metrics::Metrics;

pub struct AppState {
    pub pool: PgPool,
    pub settings: Settings,
    pub keys: JwtKeys,
    pub throttle: LoginThrottle,
    pub revoked: Arc<RevokedTokens>,
    pub users: Arc<UserStates>,
    pub metrics: Metrics,
    pub cursor_key: crate::http::cursor::CursorKey,
}
