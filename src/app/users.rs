//! Users of the workspace (admin), and what their changes do to their tokens.

use sqlx::PgExecutor;
use uuid::Uuid;

use super::{check_version, event, found, lock, record, Actor, Result, Tx};
use crate::auth::password;
use crate::db::tokens::{self, ApiToken};
use crate::db::users::{self, User};
use crate::db::{events::NewEvent, rows};
use crate::domain::events::EventType;
use crate::domain::{Email, Name, Role};
use crate::error::ApiError;

/// A new user, valid (the password checked by `auth::password::validate`).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: Name,
    pub password: String,
    pub role: Role,
}

/// What may change; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub email: Option<Email>,
    pub name: Option<Name>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
}

/// A user after a change, and the API tokens the change revoked (for the caller to forget).
pub struct Changed {
    pub user: User,
    pub revoked: Vec<Uuid>,
}

/// Only an owner may create, change or remove an owner, or grant the owner role.
fn may_manage(actor: &Actor, target: Role) -> Result<()> {
    if target == Role::Owner && actor.role != Role::Owner {
        return Err(ApiError::Forbidden("only an owner can manage owners".into()));
    }
    Ok(())
}

fn email_conflict(e: sqlx::Error) -> ApiError {
    if crate::db::violated_constraint(&e) == Some(users::EMAIL_KEY) {
        ApiError::Conflict("a user with this email already exists in the workspace".into())
    } else {
        e.into()
    }
}

pub async fn list(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<User>> {
    Ok(rows::oldest_first(db, actor.workspace_id, after, limit).await?)
}

pub async fn get(db: impl PgExecutor<'_>, actor: &Actor, id: Uuid) -> Result<User> {
    found(rows::find(db, actor.workspace_id, id).await?, "user")
}

/// Adds a user (admin; an owner only by an owner). The password is stored as an Argon2id hash.
pub async fn create(tx: &mut Tx<'_>, actor: &Actor, new: NewUser) -> Result<User> {
    actor.require(Role::Admin)?;
    may_manage(actor, new.role)?;
    let hash = password::hash(new.password).await?;
    let user = users::insert(&mut **tx, actor.workspace_id, new.email.as_str(), new.name.as_str(), &hash, new.role)
        .await
        .map_err(email_conflict)?;
    record(tx, actor, &[event(EventType::UserCreated, user.id, None, &user)]).await?;
    Ok(user)
}

/// Changes a user (admin). The last active owner cannot be demoted or disabled (`409`).
/// Disabling a user or changing its password ends its sessions and revokes the API tokens
/// issued to it.
pub async fn update(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    c: UserChanges,
) -> Result<Changed> {
    actor.require(Role::Admin)?;
    let hash = match c.password {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let current: User = found(rows::lock(&mut **tx, actor.workspace_id, id).await?, "user")?;
    may_manage(actor, current.role)?;
    if let Some(r) = c.role {
        may_manage(actor, r)?;
    }
    check_version(expected, current.version)?;
    let loses_owner = current.role == Role::Owner
        && !current.disabled
        && (c.role.is_some_and(|r| r != Role::Owner) || c.disabled == Some(true));
    if loses_owner && users::other_active_owners(&mut **tx, actor.workspace_id, current.id).await? == 0 {
        return Err(ApiError::Conflict("the workspace must keep at least one active owner".into()));
    }
    let changes = users::Changes {
        email: c.email.as_ref().map(Email::as_str),
        name: c.name.as_ref().map(Name::as_str),
        role: c.role,
        disabled: c.disabled,
        password_hash: hash.as_deref(),
    };
    let user = found(
        users::update(&mut **tx, actor.workspace_id, current.id, changes).await.map_err(email_conflict)?,
        "user",
    )?;
    let mut events = Vec::new();
    if user.version != current.version {
        events.push(event(EventType::UserUpdated, user.id, None, &user));
    }
    let mut revoked = Vec::new();
    if c.disabled == Some(true) || hash.is_some() {
        revoked = end_credentials(tx, actor, user.id, &mut events).await?;
    }
    record(tx, actor, &events).await?;
    Ok(Changed { user, revoked })
}

/// Removes a user (admin): you cannot remove yourself, nor the last active owner (`409`).
/// Every token issued to them stops working.
pub async fn delete(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<Vec<Uuid>> {
    let current: User = lock(tx, actor, Role::Admin, id, "user").await?;
    may_manage(actor, current.role)?;
    check_version(expected, current.version)?;
    if Some(current.id) == actor.user_id() {
        return Err(ApiError::Conflict("you cannot remove yourself".into()));
    }
    if current.role == Role::Owner && users::other_active_owners(&mut **tx, actor.workspace_id, current.id).await? == 0
    {
        return Err(ApiError::Conflict("the workspace must keep at least one active owner".into()));
    }
    let mut events = Vec::new();
    let revoked = end_credentials(tx, actor, current.id, &mut events).await?;
    rows::delete::<User>(&mut **tx, actor.workspace_id, current.id).await?;
    events.push(event(EventType::UserDeleted, current.id, None, &current));
    record(tx, actor, &events).await?;
    Ok(revoked)
}

/// Ends a user's sessions and revokes the API tokens issued to it.
async fn end_credentials(tx: &mut Tx<'_>, actor: &Actor, user: Uuid, events: &mut Vec<NewEvent>) -> Result<Vec<Uuid>> {
    tokens::revoke_user_sessions(&mut **tx, actor.workspace_id, user).await?;
    let revoked: Vec<ApiToken> = tokens::revoke_user_api_tokens(&mut **tx, actor.workspace_id, user).await?;
    events.extend(revoked.iter().map(|t| event(EventType::ApiTokenRevoked, t.id, None, t)));
    Ok(revoked.into_iter().map(|t| t.id).collect())
}
