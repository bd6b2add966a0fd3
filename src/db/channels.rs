use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgExecutor, Postgres};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{new_id, WorkspaceId};

crate::text_enum! {
    /// Where contact happens.
    pub enum ChannelKind {
        Email => "email",
        Phone => "phone",
        Chat => "chat",
        Sms => "sms",
        Mms => "mms",
        Fax => "fax",
        Social => "social",
        Web => "web",
        InPerson => "in_person",
        Other => "other",
    }
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Channel {
    pub id: Uuid,
    pub kind: ChannelKind,
    #[schema(example = "Support inbox")]
    pub name: String,
    /// An inactive channel takes no new interactions.
    pub active: bool,
    /// Free-form settings of the channel (JSON object).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

const COLUMNS: &str = "id, kind, name, active, config, created_at, updated_at, version";

/// The channels every new workspace starts with: one of each kind but `other`.
pub async fn create_defaults(db: impl PgExecutor<'_>, ws: WorkspaceId) -> Result<(), sqlx::Error> {
    let defaults = [
        (ChannelKind::Email, "Email"),
        (ChannelKind::Phone, "Phone"),
        (ChannelKind::Chat, "Chat"),
        (ChannelKind::Sms, "SMS"),
        (ChannelKind::Mms, "MMS"),
        (ChannelKind::Fax, "Fax"),
        (ChannelKind::Social, "Social"),
        (ChannelKind::Web, "Web"),
        (ChannelKind::InPerson, "In person"),
    ];
    let ids: Vec<Uuid> = defaults.iter().map(|_| new_id()).collect();
    let kinds: Vec<ChannelKind> = defaults.iter().map(|d| d.0).collect();
    let names: Vec<&str> = defaults.iter().map(|d| d.1).collect();
    sqlx::query(
        "INSERT INTO channels (workspace_id, id, kind, name)
         SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[])",
    )
    .bind(ws)
    .bind(ids)
    .bind(kinds)
    .bind(names)
    .execute(db)
    .await?;
    Ok(())
}

/// A channel's writable fields.
pub struct Fields {
    pub kind: ChannelKind,
    pub name: String,
    pub active: bool,
    pub config: serde_json::Value,
}

impl crate::db::rows::Table for Channel {
    const TABLE: &'static str = "channels";
    const COLUMNS: &'static str = COLUMNS;
}

impl Fields {
    /// Binds the fields as the statement's next parameters, in the order `kind, name, active,
    /// config` (`$3` to `$6` after the workspace and the id).
    fn bind<'q>(
        &'q self,
        q: QueryAs<'q, Postgres, Channel, PgArguments>,
    ) -> QueryAs<'q, Postgres, Channel, PgArguments> {
        q.bind(self.kind).bind(&self.name).bind(self.active).bind(&self.config)
    }
}

pub async fn insert(db: impl PgExecutor<'_>, ws: WorkspaceId, f: &Fields) -> Result<Channel, sqlx::Error> {
    let sql = format!(
        "INSERT INTO channels (workspace_id, id, kind, name, active, config)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    f.bind(sqlx::query_as(&sql).bind(ws).bind(new_id())).fetch_one(db).await
}

pub async fn update(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid, f: &Fields) -> Result<Channel, sqlx::Error> {
    let sql = format!(
        "UPDATE channels SET kind = $3, name = $4, active = $5, config = $6
          WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    f.bind(sqlx::query_as(&sql).bind(ws).bind(id)).fetch_one(db).await
}

/// Whether any interaction was logged, or any case came in, on the channel.
pub async fn in_use(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM interactions WHERE workspace_id = $1 AND channel_id = $2)
             OR EXISTS (SELECT 1 FROM cases WHERE workspace_id = $1 AND channel_id = $2)",
    )
    .bind(ws)
    .bind(id)
    .fetch_one(db)
    .await
}
