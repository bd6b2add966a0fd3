//! Timelines, newest first under one keyset (time, id): a customer's (its interactions, its
//! deals' stage changes and its cases' status changes) and a support case's (its interactions
//! and status changes).

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

/// A status change of a support case (`from_status` `null`: the case was opened).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CaseStatusChange {
    pub case_id: Uuid,
    #[schema(example = 1042)]
    pub case_number: i64,
    #[schema(example = "Cannot export to CSV")]
    pub case_subject: String,
    pub from_status: Option<crate::domain::support::CaseStatus>,
    pub to_status: crate::domain::support::CaseStatus,
}

pub enum Item {
    Interaction(Interaction),
    StageChange(StageChange),
    CaseStatusChange(CaseStatusChange),
}

/// Whose timeline.
#[derive(Debug, Clone, Copy)]
pub enum Of {
    Customer(Uuid),
    Case(Uuid),
}

pub struct Entry {
    pub at: DateTime<Utc>,
    pub id: Uuid,
    pub item: Item,
}

pub async fn page(
    pool: &PgPool,
    ws: WorkspaceId,
    of: Of,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    // Each part reads its own index newest first; a case's timeline has no stage changes.
    let (id, interactions_of, stage_changes_of, cases_of) = match of {
        Of::Customer(id) => (id, "customer_id = $2", "d.customer_id = $2", "c.customer_id = $2"),
        Of::Case(id) => (id, "case_id = $2", "false", "c.id = $2"),
    };
    let keys: Vec<(i16, DateTime<Utc>, Uuid)> = sqlx::query_as(&format!(
        "(SELECT 0::int2, occurred_at, id FROM interactions
           WHERE workspace_id = $1 AND {interactions_of}
             AND ($3::timestamptz IS NULL OR (occurred_at, id) < ($3, $4))
           ORDER BY occurred_at DESC, id DESC LIMIT $5)
         UNION ALL
         (SELECT 1::int2, e.changed_at, e.id FROM deal_stage_events e
            JOIN deals d ON d.workspace_id = e.workspace_id AND d.id = e.deal_id
           WHERE e.workspace_id = $1 AND {stage_changes_of}
             AND ($3::timestamptz IS NULL OR (e.changed_at, e.id) < ($3, $4))
           ORDER BY e.changed_at DESC, e.id DESC LIMIT $5)
         UNION ALL
         (SELECT 2::int2, s.changed_at, s.id FROM case_status_changes s
            JOIN cases c ON c.workspace_id = s.workspace_id AND c.id = s.case_id
           WHERE s.workspace_id = $1 AND {cases_of}
             AND ($3::timestamptz IS NULL OR (s.changed_at, s.id) < ($3, $4))
           ORDER BY s.changed_at DESC, s.id DESC LIMIT $5)
         ORDER BY 2 DESC, 3 DESC LIMIT $5"
    ))
    .bind(ws)
    .bind(id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let of_kind = |kind: i16| -> Vec<Uuid> { keys.iter().filter(|k| k.0 == kind).map(|k| k.2).collect() };
    let (interaction_ids, event_ids, status_ids) = (of_kind(0), of_kind(1), of_kind(2));
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
    let statuses: Vec<(Uuid, CaseStatusChange)> = if status_ids.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as::<_, StatusRow>(
            "SELECT s.id, s.case_id, c.number AS case_number, c.subject AS case_subject, s.from_status, s.to_status
               FROM case_status_changes s JOIN cases c ON c.workspace_id = s.workspace_id AND c.id = s.case_id
              WHERE s.workspace_id = $1 AND s.id = ANY($2)",
        )
        .bind(ws)
        .bind(&status_ids)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.id, r.change))
        .collect()
    };
    Ok(keys
        .into_iter()
        .filter_map(|(kind, at, id)| {
            let item = match kind {
                0 => Item::Interaction(found.iter().find(|i| i.id == id)?.clone()),
                1 => Item::StageChange(changes.iter().find(|c| c.0 == id)?.1.clone()),
                _ => Item::CaseStatusChange(statuses.iter().find(|c| c.0 == id)?.1.clone()),
            };
            Some(Entry { at, id, item })
        })
        .collect())
}

#[derive(FromRow)]
struct StatusRow {
    id: Uuid,
    #[sqlx(flatten)]
    change: CaseStatusChange,
}

#[derive(FromRow)]
struct EventRow {
    id: Uuid,
    #[sqlx(flatten)]
    change: StageChange,
}
