use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::events::{self, NewEvent, Origin};
use crate::db::rows::Conditions;
use crate::db::CUSTOMER_IS_LIVE;
use crate::domain::time::as_stored;
use crate::domain::{SumCents, WorkspaceId};

crate::text_enum! {
    pub enum Direction {
        Inbound => "inbound",
        Outbound => "outbound",
    }
}

crate::text_enum! {
    pub enum InteractionKind {
        Message => "message",
        Call => "call",
        Meeting => "meeting",
        Note => "note",
        Purchase => "purchase",
        Support => "support",
    }
}

/// One contact with a customer, on one channel.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Interaction {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub channel_id: Uuid,
    pub direction: Direction,
    pub kind: InteractionKind,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub duration_seconds: Option<i32>,
    /// Purchases only: the amount, in minor units of the workspace currency.
    pub value_cents: Option<i64>,
    /// Purchases only: the SKUs bought.
    pub items: Vec<String>,
    /// The user who had the contact.
    pub user_id: Option<Uuid>,
    /// The id in the system it came from; unique per channel.
    pub external_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// The support case it belongs to (a case of the same customer).
    pub case_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub const COLUMNS: &str =
    "id, customer_id, channel_id, direction, kind, subject, body, occurred_at, duration_seconds, \
     value_cents, items, user_id, external_id, metadata, case_id, created_at, updated_at, version";
pub const USER_FK: &str = "interactions_workspace_id_user_id_fkey";

impl crate::db::rows::Table for Interaction {
    const TABLE: &'static str = "interactions";
    const COLUMNS: &'static str = COLUMNS;
    const VISIBLE: &'static str = CUSTOMER_IS_LIVE;
}

/// The writable fields, validated.
#[derive(Debug, Clone)]
pub struct Fields {
    pub customer_id: Uuid,
    pub channel_id: Uuid,
    pub direction: Direction,
    pub kind: InteractionKind,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub duration_seconds: Option<i32>,
    pub value_cents: Option<i64>,
    pub items: Vec<String>,
    pub user_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub metadata: serde_json::Value,
    pub case_id: Option<Uuid>,
}

/// Whether an interaction is a reply to the customer by a user (outbound, logged with a
/// `user_id`): what makes a support case's first response. Stored with the interaction when it
/// is written (`responds`), so that removing the user later does not undo it.
pub fn responds(direction: Direction, user_id: Option<Uuid>) -> bool {
    direction == Direction::Outbound && user_id.is_some()
}

impl Interaction {
    /// The interaction `fields` make, as it reads back once inserted at `now` (instants as the
    /// database keeps them: `domain::time::as_stored`).
    pub fn new(id: Uuid, fields: &Fields, now: DateTime<Utc>) -> Self {
        let now = as_stored(now);
        let Fields {
            customer_id,
            channel_id,
            direction,
            kind,
            subject,
            body,
            occurred_at,
            duration_seconds,
            value_cents,
            items,
            user_id,
            external_id,
            metadata,
            case_id,
        } = fields.clone();
        Interaction {
            id,
            customer_id,
            channel_id,
            direction,
            kind,
            subject,
            body,
            occurred_at: as_stored(occurred_at),
            duration_seconds,
            value_cents,
            items,
            user_id,
            external_id,
            metadata,
            case_id,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// Binds the writable columns `customer_id, channel_id, direction, kind, subject, body,
/// occurred_at, duration_seconds, value_cents, items, user_id, metadata, case_id` of `f`, in
/// that order (after the workspace and the id: `$3` to `$15`).
fn bind_writable<'q, O>(
    q: sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments>,
    f: &'q Fields,
) -> sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments> {
    q.bind(f.customer_id)
        .bind(f.channel_id)
        .bind(f.direction)
        .bind(f.kind)
        .bind(&f.subject)
        .bind(&f.body)
        .bind(f.occurred_at)
        .bind(f.duration_seconds)
        .bind(f.value_cents)
        .bind(&f.items)
        .bind(f.user_id)
        .bind(&f.metadata)
        .bind(f.case_id)
}

/// Takes, until the transaction ends, the shared lock of the customer of interaction `id` that
/// orders writes of its interactions with changes of its segments' keys (migration
/// `0022_segment_hours.sql`): before the interaction's row is locked, so that a transaction
/// holding that lock and then needing the interaction (an erase's cascade) never waits for a
/// writer that waits for it. Nothing when there is no such interaction.
pub async fn hold_customer_of(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock_shared(rapport_customer_segments_lock(workspace_id, customer_id))
           FROM interactions WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Inserts the interaction `f` makes (`id`, made at `created_at`) with its event `created`, in
/// one statement, when the customer is live and the channel active. `Ok(None)`: nothing was
/// written (a reference failed, or the external id exists: the caller finds out which).
pub async fn insert(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Uuid,
    f: &Fields,
    created_at: DateTime<Utc>,
    origin: &Origin<'_>,
    created: &NewEvent,
) -> Result<Option<Interaction>, sqlx::Error> {
    let statement = format!(
        "INSERT INTO interactions (workspace_id, id, customer_id, channel_id, direction, kind, subject, body,
                                   occurred_at, duration_seconds, value_cents, items, user_id, metadata, case_id,
                                   external_id, created_at, updated_at, responds)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18
          WHERE EXISTS (SELECT 1 FROM customers WHERE workspace_id = $1 AND id = $3 AND deleted_at IS NULL)
            AND EXISTS (SELECT 1 FROM channels WHERE workspace_id = $1 AND id = $4 AND active)
         ON CONFLICT (workspace_id, channel_id, external_id) DO NOTHING
         RETURNING {COLUMNS}"
    );
    let sql = events::recorded(&statement, "", COLUMNS, 18, &["metadata"]);
    let query = bind_writable(sqlx::query_as(&sql).bind(ws).bind(id), f)
        .bind(&f.external_id)
        .bind(created_at)
        .bind(responds(f.direction, f.user_id));
    events::bind_recorded(query, origin, std::slice::from_ref(created)).fetch_optional(db).await
}

/// Inserts many (from [`Interaction::new`]) with their events `created`, in one statement;
/// rows whose external id exists are skipped, without an event. Returns the ids inserted (the
/// caller resolves the others').
pub async fn insert_many(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    rows: &[Interaction],
    origin: &Origin<'_>,
    created: &[NewEvent],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let col = |f: fn(&Interaction) -> serde_json::Value| rows.iter().map(f).collect::<Vec<_>>();
    let statement = "INSERT INTO interactions (workspace_id, id, customer_id, channel_id, direction, kind, subject, body,
                                   occurred_at, duration_seconds, value_cents, items, user_id, external_id, metadata,
                                   case_id, created_at, updated_at, responds)
         SELECT $1, u.id, u.customer_id, u.channel_id, u.direction, u.kind, u.subject, u.body, u.occurred_at,
                u.duration_seconds, u.value_cents, ARRAY(SELECT jsonb_array_elements_text(u.items)), u.user_id,
                u.external_id, u.metadata, u.case_id, u.created_at, u.created_at, u.responds
           FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::timestamptz[], $10::int[], $11::bigint[], $12::jsonb[], $13::uuid[], $14::text[], $15::jsonb[],
                       $16::timestamptz[], $17::uuid[], $18::bool[])
                AS u (id, customer_id, channel_id, direction, kind, subject, body, occurred_at, duration_seconds,
                      value_cents, items, user_id, external_id, metadata, created_at, case_id, responds)
         ON CONFLICT (workspace_id, channel_id, external_id) DO NOTHING
         RETURNING id, metadata";
    let sql = events::recorded(statement, "", "id", 18, &["metadata"]);
    let query = sqlx::query_as(&sql)
        .bind(ws)
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.customer_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.channel_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.direction).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.kind).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.subject.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.body.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.occurred_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.duration_seconds).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.value_cents).collect::<Vec<_>>())
        .bind(col(|r| serde_json::Value::from(r.items.clone())))
        .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.external_id.clone()).collect::<Vec<_>>())
        .bind(col(|r| r.metadata.clone()))
        .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.case_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| responds(r.direction, r.user_id)).collect::<Vec<_>>());
    let ids: Vec<(Uuid,)> = events::bind_recorded(query, origin, created).fetch_all(db).await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// The ids of existing interactions by (channel, external id).
pub async fn ids_by_external(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    keys: &[(Uuid, String)],
) -> Result<Vec<(Uuid, String, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.channel_id, i.external_id, i.id FROM interactions i
           JOIN unnest($2::uuid[], $3::text[]) AS k (channel_id, external_id)
             ON i.channel_id = k.channel_id AND i.external_id = k.external_id
          WHERE i.workspace_id = $1",
    )
    .bind(ws)
    .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1.clone()).collect::<Vec<_>>())
    .fetch_all(db)
    .await
}

pub async fn by_external_id(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    channel_id: Uuid,
    external_id: &str,
) -> Result<Option<Interaction>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM interactions t
          WHERE workspace_id = $1 AND channel_id = $2 AND external_id = $3 AND {CUSTOMER_IS_LIVE}"
    ))
    .bind(ws)
    .bind(channel_id)
    .bind(external_id)
    .fetch_optional(db)
    .await
}

/// Which of `customer_ids` are live customers, and which of `channel_ids` active channels.
pub async fn live_references(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    customer_ids: &[Uuid],
    channel_ids: &[Uuid],
) -> Result<(Vec<Uuid>, Vec<Uuid>), sqlx::Error> {
    let rows: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT 'customer', id FROM customers WHERE workspace_id = $1 AND id = ANY($2) AND deleted_at IS NULL
         UNION ALL
         SELECT 'channel', id FROM channels WHERE workspace_id = $1 AND id = ANY($3) AND active",
    )
    .bind(ws)
    .bind(customer_ids)
    .bind(channel_ids)
    .fetch_all(db)
    .await?;
    let (c, ch): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(k, _)| k == "customer");
    Ok((c.into_iter().map(|r| r.1).collect(), ch.into_iter().map(|r| r.1).collect()))
}

pub async fn update(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    id: Uuid,
    f: &Fields,
) -> Result<Interaction, sqlx::Error> {
    let sql = format!(
        "UPDATE interactions SET customer_id = $3, channel_id = $4, direction = $5, kind = $6, subject = $7,
                body = $8, occurred_at = $9, duration_seconds = $10, value_cents = $11, items = $12,
                user_id = $13, metadata = $14, case_id = $15,
                -- A fact of the interaction as it was logged: it changes with its direction or user only
                -- (a user removed since leaves it).
                responds = CASE WHEN (direction, user_id) IS NOT DISTINCT FROM ($5, $13) THEN responds ELSE $16 END
          WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    bind_writable(sqlx::query_as(&sql).bind(ws).bind(id), f).bind(responds(f.direction, f.user_id)).fetch_one(db).await
}

/// The filters of `GET /interactions`.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub customer_id: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub kind: Option<InteractionKind>,
    pub direction: Option<Direction>,
    pub user_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub occurred_after: Option<DateTime<Utc>>,
    pub occurred_before: Option<DateTime<Utc>>,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    f: &Filter,
    ascending: bool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Interaction>, sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM interactions t WHERE {CUSTOMER_IS_LIVE} AND workspace_id = "));
    qb.push_bind(ws)
        .and_if("customer_id =", f.customer_id)
        .and_if("channel_id =", f.channel_id)
        .and_if("kind =", f.kind)
        .and_if("direction =", f.direction)
        .and_if("user_id =", f.user_id)
        .and_if("case_id =", f.case_id)
        .and_if("occurred_at >=", f.occurred_after)
        .and_if("occurred_at <", f.occurred_before)
        .and_after("occurred_at", ascending, after)
        .order_by("occurred_at", ascending, limit);
    qb.build_query_as().fetch_all(db).await
}

/// A customer's counts per channel, first and last contact, purchases and their value.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ChannelCount {
    pub channel_id: Uuid,
    pub channel_kind: crate::db::channels::ChannelKind,
    pub channel_name: String,
    pub count: i64,
    pub last_at: DateTime<Utc>,
}

pub async fn counts_by_channel(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    customer_id: Uuid,
) -> Result<Vec<ChannelCount>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.channel_id, c.kind AS channel_kind, c.name AS channel_name, count(*) AS count, max(i.occurred_at) AS last_at
           FROM interactions i JOIN channels c ON c.workspace_id = i.workspace_id AND c.id = i.channel_id
          WHERE i.workspace_id = $1 AND i.customer_id = $2
          GROUP BY i.channel_id, c.kind, c.name
          ORDER BY count DESC, i.channel_id",
    )
    .bind(ws)
    .bind(customer_id)
    .fetch_all(db)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct Totals {
    pub total: i64,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub purchases: i64,
    pub lifetime_value_cents: SumCents,
}

pub async fn totals(db: impl PgExecutor<'_>, ws: WorkspaceId, customer_id: Uuid) -> Result<Totals, sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) AS total, min(occurred_at) AS first_at, max(occurred_at) AS last_at,
                count(*) FILTER (WHERE kind = 'purchase') AS purchases,
                coalesce(sum(value_cents) FILTER (WHERE kind = 'purchase'), 0)::text AS lifetime_value_cents
           FROM interactions WHERE workspace_id = $1 AND customer_id = $2",
    )
    .bind(ws)
    .bind(customer_id)
    .fetch_one(db)
    .await
}
