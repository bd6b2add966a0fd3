//! Use cases: every read and write Rapport offers, as plain async functions of a transaction
//! (or a connection), an [`Actor`] and a validated command, returning domain values or an
//! error. Handlers only parse, call and map; background jobs and the CLI call the same
//! functions. Every write appends its events (`db::events`) in its own transaction.

pub mod api_tokens;
pub mod channels;
pub mod customers;
pub mod deals;
pub mod events;
pub mod imports;
pub mod interactions;
pub mod pipelines;
pub mod reports;
pub mod support;
pub mod users;
pub mod workspace;

use uuid::Uuid;

use crate::auth::jwt::TokenKind;
use crate::db::events::{ActorType, EventActor, NewEvent, Origin};
use crate::domain::Role;
use crate::domain::WorkspaceId;
use crate::error::ApiError;

/// A transaction use cases run in.
pub type Tx<'c> = sqlx::Transaction<'c, sqlx::Postgres>;

/// The result of a use case.
pub type Result<T> = std::result::Result<T, ApiError>;

/// Who does something, in which workspace, with which role, for which request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub workspace_id: WorkspaceId,
    pub role: Role,
    pub principal: Principal,
    /// The request's `X-Request-Id`; `None` for background work.
    pub request_id: Option<String>,
}

/// The principal behind an [`Actor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A login session of this user.
    User(Uuid),
    /// An API token, issued to `user_id`.
    ApiToken { token_id: Uuid, user_id: Uuid },
    /// Rapport itself (a background job, the CLI).
    System,
}

impl Actor {
    /// Rapport acting on its own in a workspace (jobs, the CLI): every role.
    pub fn system(workspace_id: WorkspaceId) -> Actor {
        Actor { workspace_id, role: Role::Owner, principal: Principal::System, request_id: None }
    }

    /// A user in a login session (the one that just signed up, say).
    pub fn from_user(workspace_id: WorkspaceId, role: Role, user_id: Uuid) -> Actor {
        let request_id = crate::error::REQUEST_ID.try_with(|id| id.clone()).ok();
        Actor { workspace_id, role, principal: Principal::User(user_id), request_id }
    }

    /// From a verified token's principal.
    pub fn from_token(
        workspace_id: WorkspaceId,
        role: Role,
        kind: TokenKind,
        user_id: Uuid,
        token_id: Uuid,
        request_id: Option<String>,
    ) -> Actor {
        let principal = match kind {
            TokenKind::Access => Principal::User(user_id),
            TokenKind::Api => Principal::ApiToken { token_id, user_id },
        };
        Actor { workspace_id, role, principal, request_id }
    }

    /// The user a person acts as in a login session: recorded where a change names who made it
    /// (a deal's stage history). API tokens and jobs record none.
    pub fn session_user(&self) -> Option<Uuid> {
        match self.principal {
            Principal::User(id) => Some(id),
            _ => None,
        }
    }

    /// The user behind the actor (the session's, or the one an API token was issued to).
    pub fn user_id(&self) -> Option<Uuid> {
        match self.principal {
            Principal::User(id) | Principal::ApiToken { user_id: id, .. } => Some(id),
            Principal::System => None,
        }
    }

    /// `403` unless the actor has at least `role`.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.role < role {
            return Err(ApiError::Forbidden(format!(
                "this action needs the {} role or higher; the token has {}",
                role.as_str(),
                self.role.as_str()
            )));
        }
        Ok(())
    }

    /// The origin of the changes the actor makes, as the event log records it.
    pub fn origin(&self) -> Origin<'_> {
        Origin { actor: self.event_actor(), request_id: self.request_id.as_deref() }
    }

    /// How the event log names the actor.
    pub fn event_actor(&self) -> EventActor {
        match self.principal {
            Principal::User(id) => EventActor { type_: ActorType::User, id: Some(id) },
            Principal::ApiToken { token_id, .. } => EventActor { type_: ActorType::ApiToken, id: Some(token_id) },
            Principal::System => EventActor { type_: ActorType::System, id: None },
        }
    }
}

/// `412` unless `expected` (the request's `If-Match`, if any) is the current version.
pub fn check_version(expected: Option<i64>, current: i64) -> Result<()> {
    match expected {
        Some(e) if e != current => Err(ApiError::PreconditionFailed { current }),
        _ => Ok(()),
    }
}

/// The row, or `404 <what> not found`.
pub fn found<T>(row: Option<T>, what: &str) -> Result<T> {
    row.ok_or_else(|| ApiError::not_found(what))
}

/// A row the actor (with at least `role`) is about to change, locked until the transaction
/// ends; `404 <what> not found` when the workspace has none the API sees, then `412` unless
/// `expected` (the request's `If-Match`) is its version once `check` passed.
pub async fn lock<T: crate::db::rows::Table>(
    tx: &mut Tx<'_>,
    actor: &Actor,
    role: Role,
    id: Uuid,
    what: &str,
) -> Result<T> {
    actor.require(role)?;
    found(crate::db::rows::lock(&mut **tx, actor.workspace_id, id).await?, what)
}

/// Records the event `make` gives for a change of one row when the change moved its version
/// (`before` to `after`): a change that changes nothing records nothing.
pub async fn record_change(
    tx: &mut Tx<'_>,
    actor: &Actor,
    before: i64,
    after: i64,
    make: impl FnOnce() -> NewEvent,
) -> Result<()> {
    if before == after {
        return Ok(());
    }
    record(tx, actor, &[make()]).await
}

/// Appends events for the actor's changes, in the transaction `tx`.
pub async fn record(tx: &mut Tx<'_>, actor: &Actor, events: &[NewEvent]) -> Result<()> {
    crate::db::events::append(tx, actor.workspace_id, &actor.origin(), events).await?;
    Ok(())
}

/// An event whose data is `resource` as the API shows it.
pub fn event<T: serde::Serialize>(
    kind: crate::domain::events::EventType,
    resource_id: Uuid,
    customer_id: Option<Uuid>,
    resource: &T,
) -> NewEvent {
    NewEvent { kind, resource_id, customer_id, data: serde_json::to_value(resource).unwrap_or_default() }
}
