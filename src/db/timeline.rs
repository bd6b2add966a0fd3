//! A customer's timeline: its interactions and its deals' stage changes, newest first, under
//! one keyset (time, id).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::interactions::{self, Interaction};
use crate::domain::WorkspaceId;

/// A stage change of one of the customer's deals.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct StageChange {
    pub deal_id: Uuid,
    pub deal_title: String,
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    pub user_id: Option<Uuid>,
}

pub enum Item {
    Interaction(Interaction),
    StageChange(StageChange),
}

pub struct Entry {
    pub at: DateTime<Utc>,
    pub id: Uuid,
    pub item: Item,
}

pub async fn page(
    pool: &PgPool,
    ws: WorkspaceId,
    customer: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let keys: Vec<(bool, DateTime<Utc>, Uuid)> = sqlx::query_as(
        "(SELECT true, occurred_at, id FROM interactions
           WHERE workspace_id = $1 AND customer_id = $2
             AND ($3::timestamptz IS NULL OR (occurred_at, id) < ($3, $4))
           ORDER BY occurred_at DESC, id DESC LIMIT $5)
         UNION ALL
         (SELECT false, e.changed_at, e.id FROM deal_stage_events e
            JOIN deals d ON d.workspace_id = e.workspace_id AND d.id = e.deal_id
           WHERE e.workspace_id = $1 AND d.customer_id = $2
             AND ($3::timestamptz IS NULL OR (e.changed_at, e.id) < ($3, $4))
           ORDER BY e.changed_at DESC, e.id DESC LIMIT $5)
         ORDER BY 2 DESC, 3 DESC LIMIT $5",
    )
    .bind(ws)
    .bind(customer)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let interaction_ids: Vec<Uuid> = keys.iter().filter(|k| k.0).map(|k| k.2).collect();
    let event_ids: Vec<Uuid> = keys.iter().filter(|k| !k.0).map(|k| k.2).collect();
    let found: Vec<Interaction> = if interaction_ids.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(&format!(
            "SELECT {} FROM interactions WHERE workspace_id = $1 AND id = ANY($2)",
            interactions::COLUMNS
        ))
        .bind(ws)
        .bind(&interaction_ids)
        .fetch_all(pool)
        .await?
    };
    let changes: Vec<(Uuid, StageChange)> = if event_ids.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as::<_, EventRow>(
            "SELECT e.id, e.deal_id, d.title AS deal_title, e.from_stage_id, e.to_stage_id, e.user_id
               FROM deal_stage_events e JOIN deals d ON d.workspace_id = e.workspace_id AND d.id = e.deal_id
              WHERE e.workspace_id = $1 AND e.id = ANY($2)",
        )
        .bind(ws)
        .bind(&event_ids)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.id, r.change))
        .collect()
    };
    Ok(keys
        .into_iter()
        .filter_map(|(is_interaction, at, id)| {
            let item = if is_interaction {
                Item::Interaction(found.iter().find(|i| i.id == id)?.clone())
            } else {
                Item::StageChange(changes.iter().find(|c| c.0 == id)?.1.clone())
            };
            Some(Entry { at, id, item })
        })
        .collect())
}

#[derive(FromRow)]
struct EventRow {
    id: Uuid,
    #[sqlx(flatten)]
    change: StageChange,
}
