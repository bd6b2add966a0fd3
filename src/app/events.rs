//! Reading the event log.

use sqlx::PgPool;

use super::{Actor, Result};
use crate::db::events::{self, Event, FeedPosition, Filter};
use crate::domain::Role;

/// A page of the feed after `after`, and where to poll from next (admin).
pub async fn feed(
    pool: &PgPool,
    actor: &Actor,
    filter: &Filter,
    after: Option<FeedPosition>,
    limit: i64,
) -> Result<(Vec<Event>, FeedPosition)> {
    actor.require(Role::Admin)?;
    Ok(events::feed(pool, actor.workspace_id, filter, after, limit).await?)
}
