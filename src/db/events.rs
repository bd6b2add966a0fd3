//! The event log (migration 0007): appended in the transaction of each change, read as a feed
//! that is safe to poll, scrubbed on erasure, pruned by age.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgExecutor, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::rows::Conditions;
use crate::domain::events::EventType;
use crate::domain::{new_id, WorkspaceId};

/// Who made a change, as the log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventActor {
    /// `user` (a login session), `api_token`, or `system` (a background job).
    #[serde(rename = "type")]
    #[schema(example = "user")]
    pub type_: ActorType,
    /// The user's or the API token's id; `null` for `system`.
    pub id: Option<Uuid>,
}

crate::text_enum! {
    pub enum ActorType {
        User => "user",
        ApiToken => "api_token",
        System => "system",
    }
}

/// A change to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventType,
    pub resource_id: Uuid,
    /// The customer whose personal data `data` may hold (erasing it scrubs the event).
    pub customer_id: Option<Uuid>,
    /// The resource after the change (its id alone when it was erased).
    pub data: Value,
}

/// The request a change came from.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    pub actor: EventActor,
    pub request_id: Option<&'a str>,
}

/// Appends events, in order, in the caller's transaction.
pub async fn append(
    db: &mut PgConnection,
    ws: WorkspaceId,
    origin: &Origin<'_>,
    events: &[NewEvent],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| new_id()).collect();
    sqlx::query(
        "INSERT INTO events (workspace_id, id, type, resource, resource_id, customer_id, actor_type, actor_id,
                             request_id, data)
         SELECT $1, u.id, u.type, split_part(u.type, '.', 1), u.resource_id, u.customer_id, $6, $7, $8, u.data
           FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $9::jsonb[])
                WITH ORDINALITY AS u (id, type, resource_id, customer_id, data, n)
          ORDER BY u.n",
    )
    .bind(ws)
    .bind(&ids)
    .bind(events.iter().map(|e| e.kind).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.resource_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.customer_id).collect::<Vec<_>>())
    .bind(origin.actor.type_)
    .bind(origin.actor.id)
    .bind(origin.request_id)
    .bind(events.iter().map(|e| e.data.clone()).collect::<Vec<_>>())
    .execute(db)
    .await?;
    Ok(())
}

/// `statement` (an `INSERT … RETURNING id` and each of `json_columns`, with `$1` the
/// workspace and `$2`..`$n` its own parameters, which `also` may use too) made to append, for each row it writes, its
/// event bound by [`bind_recorded`] as `$n+1`..`$n+8`, in the same statement: a write of one
/// statement needs neither a transaction nor a round trip for its events. Events are matched to
/// rows by resource id and appended in the order given; a row not written (a conflict skipped)
/// records nothing. The event's `data` is the bound JSON with each of `json_columns` replaced
/// by the row's stored value (exactly as it reads back). `also`: more writes that go with the
/// rows, as named data-modifying CTEs that read `changed` (`""`: none). Returns `columns` of the
/// rows written.
pub fn recorded(statement: &str, also: &str, columns: &str, n: usize, json_columns: &[&str]) -> String {
    let p = |i: usize| format!("${}", n + i);
    let stored: Vec<String> = json_columns.iter().map(|c| format!("'{c}', changed.{c}")).collect();
    format!(
        "WITH changed AS ({statement}),{also}
         recorded AS (
           INSERT INTO events (workspace_id, id, type, resource, resource_id, customer_id, actor_type, actor_id,
                               request_id, data)
           SELECT $1, e.id, e.type, split_part(e.type, '.', 1), changed.id, e.customer_id, {actor_type}, {actor_id},
                  {request}, e.data || jsonb_build_object({stored})
             FROM changed
             JOIN unnest({resources}::uuid[], {ids}::uuid[], {types}::text[], {customers}::uuid[], {data}::jsonb[])
                  WITH ORDINALITY AS e (resource_id, id, type, customer_id, data, n) ON e.resource_id = changed.id
            ORDER BY e.n)
         SELECT {columns} FROM changed",
        resources = p(1),
        ids = p(2),
        types = p(3),
        customers = p(4),
        data = p(5),
        actor_type = p(6),
        actor_id = p(7),
        request = p(8),
        stored = stored.join(", "),
        also = if also.is_empty() { String::new() } else { format!("\n         {also},") },
    )
}

/// Binds the parameters of [`recorded`]: the events (each names its resource) and their origin.
pub fn bind_recorded<'q, O>(
    query: sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments>,
    origin: &Origin<'q>,
    events: &[NewEvent],
) -> sqlx::query::QueryAs<'q, Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(events.iter().map(|e| e.resource_id).collect::<Vec<_>>())
        .bind(events.iter().map(|_| new_id()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.kind).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.customer_id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.data.clone()).collect::<Vec<_>>())
        .bind(origin.actor.type_)
        .bind(origin.actor.id)
        .bind(origin.request_id)
}

/// Records the erasure of customers' rows that go with them (interactions, deals: one
/// `<resource>.deleted` event each, data `{"id"}`) and scrubs every earlier event about those
/// customers down to the resource's id: nothing personal stays in the log. Call before the
/// rows are deleted.
pub async fn erase_customers(
    db: &mut PgConnection,
    ws: WorkspaceId,
    origin: &Origin<'_>,
    customers: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE events SET data = jsonb_build_object('id', resource_id)
          WHERE workspace_id = $1 AND customer_id = ANY($2) AND data <> jsonb_build_object('id', resource_id)",
    )
    .bind(ws)
    .bind(customers)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO events (workspace_id, id, type, resource, resource_id, customer_id, actor_type, actor_id,
                             request_id, data)
         SELECT $1, gen_random_uuid(), r.resource || '.deleted', r.resource, r.id, r.customer_id, $3, $4, $5,
                jsonb_build_object('id', r.id)
           FROM (SELECT 'interaction' AS resource, id, customer_id, occurred_at AS at FROM interactions
                  WHERE workspace_id = $1 AND customer_id = ANY($2)
                 UNION ALL
                 SELECT 'deal', id, customer_id, created_at FROM deals WHERE workspace_id = $1 AND customer_id = ANY($2)
                 UNION ALL
                 SELECT 'case', id, customer_id, created_at FROM cases WHERE workspace_id = $1 AND customer_id = ANY($2)) r
          ORDER BY r.customer_id, r.resource, r.at, r.id",
    )
    .bind(ws)
    .bind(customers)
    .bind(origin.actor.type_)
    .bind(origin.actor.id)
    .bind(origin.request_id)
    .execute(db)
    .await?;
    Ok(())
}

/// An entry of the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub id: Uuid,
    /// The order events were written in (within a transaction, the order of its changes).
    pub seq: i64,
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    pub type_: String,
    /// The kind of resource: the part of `type` before the dot.
    #[schema(example = "customer")]
    pub resource: String,
    pub resource_id: Uuid,
    pub actor: EventActor,
    /// The `X-Request-Id` of the request that made the change; `null` for background work.
    pub request_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// The resource after the change, as the API returns it; `{"id"}` alone when it was
    /// deleted for good or its customer erased.
    #[schema(value_type = Object)]
    pub data: Value,
}

#[derive(FromRow)]
struct EventRow {
    id: Uuid,
    seq: i64,
    type_: String,
    resource: String,
    resource_id: Uuid,
    actor_type: ActorType,
    actor_id: Option<Uuid>,
    request_id: Option<String>,
    occurred_at: DateTime<Utc>,
    data: Value,
    /// The writing transaction, as text (`xid8`).
    txid: String,
}

/// A place in the feed: after the event of transaction `txid` and sequence `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPosition {
    pub txid: u64,
    pub seq: i64,
}

/// What `GET /events` filters on.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Exact types; empty: any.
    pub types: Vec<EventType>,
    /// Resources of which any type (`customer.*`).
    pub resources: Vec<String>,
    pub resource_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
}

/// Up to `limit` events after `after`, in feed order, of finished transactions only; and the
/// position to poll from next (past every finished transaction when fewer than `limit` came).
///
/// Feed order is (writing transaction id, seq). An event is returned only once its
/// transaction is older than every transaction still running (`pg_snapshot_xmin` of the
/// statement's own snapshot): such an event is final (committed and visible, or never will
/// be), and any event committed later belongs to a transaction at or past that horizon, so it
/// sorts after every event already returned. A poller that always passes the last position
/// therefore sees every event exactly once, whatever the order transactions commit in.
pub async fn feed(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    filter: &Filter,
    after: Option<FeedPosition>,
    limit: i64,
) -> Result<(Vec<Event>, FeedPosition), sqlx::Error> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
         SELECT e.id, e.seq, e.type AS type_, e.resource, e.resource_id, e.actor_type, e.actor_id, e.request_id,
                e.occurred_at, e.data, e.txid::text AS txid, h.xmin::text AS horizon
           FROM horizon h LEFT JOIN LATERAL (
             SELECT * FROM events e WHERE e.workspace_id = ",
    );
    qb.push_bind(ws).push(" AND e.txid < h.xmin");
    if let Some(p) = after {
        qb.push(" AND (e.txid, e.seq) > (").push_bind(p.txid.to_string()).push("::xid8, ").push_bind(p.seq).push(")");
    }
    if !filter.types.is_empty() || !filter.resources.is_empty() {
        qb.push(" AND (e.type = ANY(")
            .push_bind(filter.types.iter().map(|t| t.as_str().to_owned()).collect::<Vec<_>>())
            .push(") OR e.resource = ANY(")
            .push_bind(filter.resources.clone())
            .push("))");
    }
    qb.and_if("e.resource_id =", filter.resource_id).and_if("e.actor_id =", filter.actor_id);
    qb.push(" ORDER BY e.txid, e.seq LIMIT ").push_bind(limit).push(") e ON true ORDER BY e.txid, e.seq");
    let rows: Vec<(Option<EventRow>, String)> = qb
        .build()
        .try_map(|row: sqlx::postgres::PgRow| {
            use sqlx::Row;
            let horizon: String = row.try_get("horizon")?;
            let id: Option<Uuid> = row.try_get("id")?;
            Ok((id.map(|_| EventRow::from_row(&row)).transpose()?, horizon))
        })
        .fetch_all(db)
        .await?;
    let horizon: u64 = rows.first().and_then(|(_, h)| h.parse().ok()).unwrap_or(0);
    let events: Vec<(Event, FeedPosition)> = rows
        .into_iter()
        .filter_map(|(r, _)| r)
        .map(|r| {
            let position = FeedPosition { txid: r.txid.parse().unwrap_or(0), seq: r.seq };
            let event = Event {
                id: r.id,
                seq: r.seq,
                type_: r.type_,
                resource: r.resource,
                resource_id: r.resource_id,
                actor: EventActor { type_: r.actor_type, id: r.actor_id },
                request_id: r.request_id,
                occurred_at: r.occurred_at,
                data: r.data,
            };
            (event, position)
        })
        .collect();
    let next = match events.last() {
        Some((_, last)) if events.len() as i64 == limit => *last,
        // Everything before the horizon has been seen: poll from there (never back).
        last => {
            let floor = FeedPosition { txid: horizon, seq: -1 };
            match (last.map(|(_, p)| *p), after) {
                (Some(p), _) if (p.txid, p.seq) > (floor.txid, floor.seq) => p,
                (_, Some(a)) if (a.txid, a.seq) > (floor.txid, floor.seq) => a,
                _ => floor,
            }
        }
    };
    Ok((events.into_iter().map(|(e, _)| e).collect(), next))
}

/// Deletes events older than `days`, a batch at a time; returns how many went.
pub async fn prune(db: impl PgExecutor<'_>, days: i32, batch: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM events WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM events WHERE occurred_at < now() - make_interval(days => $1) LIMIT $2))",
    )
    .bind(days)
    .bind(batch)
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
