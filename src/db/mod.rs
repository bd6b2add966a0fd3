//! SQL, one module per resource. Every tenant query takes a `WorkspaceId`.

pub mod channels;
pub mod customers;
pub mod deals;
pub mod events;
pub mod idempotency;
pub mod interactions;
pub mod logins;
pub mod pipelines;
pub mod pool;
pub mod reports;
pub mod request_counts;
pub mod rows;
pub mod seed;
pub mod support;
pub mod timeline;
pub mod tokens;
pub mod users;
pub mod workspaces;

/// A customer's rows (interactions, deals) follow it: hidden while it is soft-deleted, back when
/// it is restored. This condition, on a row aliased `t` (with `workspace_id` and
/// `customer_id`), holds while its customer is live; it probes the small partial index of
/// deleted customers (`customers_deleted_key`).
pub const CUSTOMER_IS_LIVE: &str = "NOT EXISTS (SELECT 1 FROM customers x
     WHERE x.workspace_id = t.workspace_id AND x.id = t.customer_id AND x.deleted_at IS NOT NULL)";

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Whether every migration this binary knows is applied (`Err`: the database is unreachable).
pub async fn is_migrated(db: impl sqlx::PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success").fetch_one(db).await?;
    Ok(applied.is_some_and(|v| v >= latest))
}
