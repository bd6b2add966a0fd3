//! What every tenant table shares: find, lock, list oldest first, delete, one way.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::WorkspaceId;

/// A resource read from one table (aliased `t` in every statement).
pub trait Table: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin {
    /// The table.
    const TABLE: &'static str;
    /// The columns the resource reads.
    const COLUMNS: &'static str;
    /// Which rows the API sees (a condition on `t`): all, or those of live customers.
    const VISIBLE: &'static str = "true";
}

/// The row, if the workspace has it and the API sees it.
pub async fn find<T: Table>(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<T>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM {} t WHERE t.workspace_id = $1 AND t.id = $2 AND {}",
        T::COLUMNS,
        T::TABLE,
        T::VISIBLE
    ))
    .bind(ws)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The row, locked until the end of the transaction.
pub async fn lock<T: Table>(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<T>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM {} t WHERE t.workspace_id = $1 AND t.id = $2 AND {} FOR UPDATE OF t",
        T::COLUMNS,
        T::TABLE,
        T::VISIBLE
    ))
    .bind(ws)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Up to `limit` rows after `after`, oldest first (by `created_at`, then id).
pub async fn oldest_first<T: Table>(
    db: impl PgExecutor<'_>,
    ws: WorkspaceId,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<T>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM {} t
          WHERE t.workspace_id = $1 AND {} AND ($2::timestamptz IS NULL OR (t.created_at, t.id) > ($2, $3))
          ORDER BY t.created_at, t.id LIMIT $4",
        T::COLUMNS,
        T::TABLE,
        T::VISIBLE
    ))
    .bind(ws)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Deletes the row; `false` when there was none.
pub async fn delete<T: Table>(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(&format!("DELETE FROM {} WHERE workspace_id = $1 AND id = $2", T::TABLE))
        .bind(ws)
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}
