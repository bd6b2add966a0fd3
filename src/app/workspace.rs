//! The caller's workspace: its name, currency and time zone.

use sqlx::PgExecutor;

use super::{check_version, event, found, record, record_change, Actor, Result, Tx};
use crate::db::workspaces::{self, Workspace};
use crate::domain::events::EventType;
use crate::domain::{Currency, Email, Name, Role, Timezone, WorkspaceId};
use crate::error::ApiError;

/// What may change; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceChanges {
    pub name: Option<Name>,
    pub currency: Option<Currency>,
    pub timezone: Option<Timezone>,
}

/// A new workspace and its owner, valid (the password already hashed).
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub name: Name,
    pub currency: Currency,
    pub owner_email: Email,
    pub owner_name: Name,
    pub password_hash: String,
}

/// Who makes a workspace: its owner signing up, or Rapport itself (first start, the CLI, a
/// seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MadeBy {
    Owner,
    System,
}

/// Creates a workspace, its owner, and what a new workspace starts with (one channel of each
/// kind but `other`, the default pipeline); its log starts with `workspace.created` and
/// `user.created`.
pub async fn create(tx: &mut Tx<'_>, new: NewWorkspace, by: MadeBy) -> Result<(Workspace, crate::db::users::User)> {
    let owner = workspaces::NewOwner {
        email: new.owner_email.as_str(),
        name: new.owner_name.as_str(),
        password_hash: &new.password_hash,
    };
    let (ws, user) = workspaces::create(tx, new.name.as_str(), new.currency.as_str(), owner).await?;
    let actor = match by {
        MadeBy::Owner => Actor::from_user(WorkspaceId(ws.id), Role::Owner, user.id),
        MadeBy::System => Actor::system(WorkspaceId(ws.id)),
    };
    let events =
        [event(EventType::WorkspaceCreated, ws.id, None, &ws), event(EventType::UserCreated, user.id, None, &user)];
    record(tx, &actor, &events).await?;
    Ok((ws, user))
}

pub async fn get(db: impl PgExecutor<'_>, actor: &Actor) -> Result<Workspace> {
    found(workspaces::get(db, actor.workspace_id).await?, "workspace")
}

/// Changes the workspace (owner). Amounts are integers in the workspace's currency, so the
/// currency cannot change while any amount other than zero is recorded (`409`): changing it
/// would relabel them (10.00 EUR would read 1000 JPY). A new time zone moves every scheduled
/// report's next slot to the first after `now` in that zone.
pub async fn update(
    tx: &mut Tx<'_>,
    actor: &Actor,
    expected: Option<i64>,
    c: WorkspaceChanges,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Workspace> {
    actor.require(Role::Owner)?;
    let current = found(workspaces::lock(&mut **tx, actor.workspace_id).await?, "workspace")?;
    check_version(expected, current.version)?;
    if c.currency.as_ref().is_some_and(|cur| cur.as_str() != current.currency)
        && workspaces::lock_and_find_amounts(tx, actor.workspace_id).await?
    {
        return Err(ApiError::Conflict(format!(
            "the workspace records amounts in {}; its currency cannot change while they exist",
            current.currency
        )));
    }
    let ws = found(
        workspaces::update(
            &mut **tx,
            actor.workspace_id,
            c.name.as_ref().map(Name::as_str),
            c.currency.as_ref().map(Currency::as_str),
            c.timezone.as_ref().map(Timezone::as_str),
        )
        .await?,
        "workspace",
    )?;
    if ws.timezone != current.timezone {
        super::reports::reschedule(tx, actor.workspace_id, &ws.timezone, now).await?;
    }
    record_change(tx, actor, current.version, ws.version, || event(EventType::WorkspaceUpdated, ws.id, None, &ws))
        .await?;
    if ws.timezone != current.timezone {
        // Business hours are local times: the due times counted on them move with the zone.
        super::support::recompute(tx, actor, None).await?;
    }
    Ok(ws)
}
