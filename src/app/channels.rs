//! Channels: where contact happens.

use sqlx::PgExecutor;
use uuid::Uuid;

use super::{check_version, event, found, lock, record, record_change, Actor, Result, Tx};
use crate::db::channels::{self, Channel, ChannelKind};
use crate::db::rows;
use crate::domain::events::EventType;
use crate::domain::{ChannelConfig, Name, Role};
use crate::error::ApiError;

/// A channel's writable fields, valid.
#[derive(Debug, Clone)]
pub struct ChannelFields {
    pub kind: ChannelKind,
    pub name: Name,
    pub active: bool,
    pub config: ChannelConfig,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Channel>> {
    Ok(rows::oldest_first(db, actor.workspace_id, after, limit).await?)
}

pub async fn get(db: impl PgExecutor<'_>, actor: &Actor, id: Uuid) -> Result<Channel> {
    found(rows::find(db, actor.workspace_id, id).await?, "channel")
}

/// Adds a channel (admin).
pub async fn create(tx: &mut Tx<'_>, actor: &Actor, fields: ChannelFields) -> Result<Channel> {
    actor.require(Role::Admin)?;
    let channel = channels::insert(&mut **tx, actor.workspace_id, &fields.into()).await?;
    record(tx, actor, &[event(EventType::ChannelCreated, channel.id, None, &channel)]).await?;
    Ok(channel)
}

/// Changes a channel (admin): `change` gives its new fields from the current ones.
pub async fn update(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: Uuid,
    expected: Option<i64>,
    change: impl FnOnce(&Channel) -> Result<ChannelFields>,
) -> Result<Channel> {
    let current: Channel = lock(tx, actor, Role::Admin, id, "channel").await?;
    let fields = change(&current)?;
    check_version(expected, current.version)?;
    let channel = channels::update(&mut **tx, actor.workspace_id, current.id, &fields.into()).await?;
    record_change(tx, actor, current.version, channel.version, || {
        event(EventType::ChannelUpdated, channel.id, None, &channel)
    })
    .await?;
    Ok(channel)
}

/// Removes a channel (admin); one with interactions cannot go (`409`): deactivate it.
pub async fn delete(tx: &mut Tx<'_>, actor: &Actor, id: Uuid, expected: Option<i64>) -> Result<()> {
    let current: Channel = lock(tx, actor, Role::Admin, id, "channel").await?;
    check_version(expected, current.version)?;
    if channels::in_use(&mut **tx, actor.workspace_id, current.id).await? {
        return Err(ApiError::Conflict(
            "the channel has interactions or cases; deactivate it instead (PATCH active=false)".into(),
        ));
    }
    rows::delete::<Channel>(&mut **tx, actor.workspace_id, current.id).await?;
    record(tx, actor, &[event(EventType::ChannelDeleted, current.id, None, &current)]).await?;
    Ok(())
}

impl From<ChannelFields> for channels::Fields {
    fn from(f: ChannelFields) -> Self {
        channels::Fields { kind: f.kind, name: f.name.into_inner(), active: f.active, config: f.config.into_inner() }
    }
}
