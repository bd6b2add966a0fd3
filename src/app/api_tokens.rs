//! API tokens: long-lived credentials for scripts and integrations (admin).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::{event, found, record, Actor, Result, Tx};
use crate::db::tokens::{self, ApiToken};
use crate::domain::events::EventType;
use crate::domain::{Name, Role};
use crate::error::{ApiError, FieldError};

/// A new API token, valid: at most the creator's role, expiring in the future (or never).
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub name: Name,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewApiToken {
    /// The rules a token's role and expiry follow, for `actor`; every broken one reported.
    pub fn check(actor: &Actor, role: Role, expires_at: Option<DateTime<Utc>>, errors: &mut Vec<FieldError>) {
        if role > actor.role {
            errors.push(FieldError::new("role", "cannot exceed your own role"));
        }
        if expires_at.is_some_and(|e| e <= Utc::now()) {
            errors.push(FieldError::new("expires_at", "must be in the future"));
        }
    }
}

pub async fn list(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ApiToken>> {
    actor.require(Role::Admin)?;
    Ok(crate::db::rows::oldest_first(db, actor.workspace_id, after, limit).await?)
}

/// Records a token issued to the actor's user (admin). The caller signs the bearer token for
/// it, with the user as subject: it lives and dies with that user.
pub async fn create(tx: &mut Tx<'_>, actor: &Actor, new: NewApiToken) -> Result<ApiToken> {
    actor.require(Role::Admin)?;
    let mut errors = Vec::new();
    NewApiToken::check(actor, new.role, new.expires_at, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let user = actor.user_id().ok_or_else(|| ApiError::Forbidden("an API token is issued to a user".into()))?;
    let token =
        tokens::insert_api(&mut **tx, actor.workspace_id, new.name.as_str(), new.role, Some(user), new.expires_at)
            .await?;
    record(tx, actor, &[event(EventType::ApiTokenCreated, token.id, None, &token)]).await?;
    Ok(token)
}

/// Revokes a token (admin); every instance refuses it within seconds.
pub async fn revoke(tx: &mut Tx<'_>, actor: &Actor, id: Uuid) -> Result<ApiToken> {
    actor.require(Role::Admin)?;
    let (token, newly) = found(tokens::revoke_api(&mut **tx, actor.workspace_id, id).await?, "API token")?;
    if newly {
        record(tx, actor, &[event(EventType::ApiTokenRevoked, token.id, None, &token)]).await?;
    }
    Ok(token)
}
