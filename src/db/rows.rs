//! What every tenant table shares: find, lock, list oldest first, delete, one way.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
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

/// `FROM` the table (as `t`) `WHERE` the workspace `ws` has the row `id` (each a parameter or
/// an expression) and the API sees it: what [`find`], [`lock`] and [`exists`] read.
fn the_row<T: Table>(ws: &str, id: &str) -> String {
    format!("FROM {} t WHERE t.workspace_id = {ws} AND t.id = {id} AND {}", T::TABLE, T::VISIBLE)
}

/// The row, if the workspace has it and the API sees it.
pub async fn find<T: Table>(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<T>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {} {}", T::COLUMNS, the_row::<T>("$1", "$2")))
        .bind(ws)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// A condition for a statement: the row is there, as [`find`] would find it.
pub fn exists<T: Table>(ws: &str, id: &str) -> String {
    format!("EXISTS (SELECT 1 {})", the_row::<T>(ws, id))
}

/// The row, locked until the end of the transaction.
pub async fn lock<T: Table>(db: impl PgExecutor<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<T>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {} {} FOR UPDATE OF t", T::COLUMNS, the_row::<T>("$1", "$2")))
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
    Ok(execute(db, &format!("DELETE FROM {} WHERE workspace_id = $1 AND id = $2", T::TABLE), ws, id).await? == 1)
}

/// Runs `sql`, a statement on rows of the workspace `ws` (`$1`) picked by `id` (`$2`), for
/// its effect; returns how many rows it changed.
pub async fn execute(db: impl PgExecutor<'_>, sql: &str, ws: WorkspaceId, id: Uuid) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql).bind(ws).bind(id).execute(db).await?.rows_affected())
}

/// Conditions of a filtered list, added to a statement being built.
pub trait Conditions<'q> {
    /// Appends ` AND {test} $n` with `value` bound, when there is a value; `test` is a column
    /// and an operator, e.g. `"created_at >="`.
    fn and_if<T>(&mut self, test: &str, value: Option<T>) -> &mut Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send;

    /// Appends the keyset condition ` AND (column, id) {> or <} ($t, $id)` of a page that
    /// starts after `after` in the given direction.
    fn and_after<T>(&mut self, column: &str, ascending: bool, after: Option<(T, Uuid)>) -> &mut Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send;

    /// Appends ` ORDER BY column, id` in the direction, and ` LIMIT $n`.
    fn order_by(&mut self, column: &str, ascending: bool, limit: i64) -> &mut Self;
}

impl<'q> Conditions<'q> for QueryBuilder<'q, Postgres> {
    fn and_if<T>(&mut self, test: &str, value: Option<T>) -> &mut Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
    {
        if let Some(value) = value {
            self.push(format_args!(" AND {test} ")).push_bind(value);
        }
        self
    }

    fn and_after<T>(&mut self, column: &str, ascending: bool, after: Option<(T, Uuid)>) -> &mut Self
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
    {
        if let Some((value, id)) = after {
            let op = if ascending { ">" } else { "<" };
            self.push(format_args!(" AND ({column}, id) {op} (")).push_bind(value).push(", ").push_bind(id).push(")");
        }
        self
    }

    fn order_by(&mut self, column: &str, ascending: bool, limit: i64) -> &mut Self {
        let dir = if ascending { "ASC" } else { "DESC" };
        self.push(format_args!(" ORDER BY {column} {dir}, id {dir} LIMIT ")).push_bind(limit)
    }
}
