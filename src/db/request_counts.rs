//! Requests per principal in fixed windows on the database's clock, for the rate limiter
//! (`http::rate_limit`): one count for every instance on the database. A key's window starts with its first request and lasts `window`; the first request
//! after it starts the next.

use std::time::Duration;

use sqlx::PgExecutor;

/// Counts one request for `key` and returns the count in its window (this request included)
/// and the whole seconds until the window ends (at least 1). One statement; two requests of
/// one key wait on each other only for its row.
pub async fn hit(db: impl PgExecutor<'_>, key: &str, window: Duration) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO request_counts AS c (key, requests, started_at) VALUES ($1, 1, now())
         ON CONFLICT (key) DO UPDATE SET
             requests = CASE WHEN c.started_at + make_interval(secs => $2) <= now() THEN 1
                             ELSE least(c.requests, 1000000000) + 1 END,
             started_at = CASE WHEN c.started_at + make_interval(secs => $2) <= now() THEN now() ELSE c.started_at END
         RETURNING requests::bigint,
                   greatest(1, ceil(extract(epoch FROM started_at + make_interval(secs => $2) - now())))::bigint",
    )
    .bind(key)
    .bind(window.as_secs_f64())
    .fetch_one(db)
    .await
}

/// Takes back one request of `key` (one the server failed to serve).
pub async fn undo(db: impl PgExecutor<'_>, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE request_counts SET requests = requests - 1 WHERE key = $1 AND requests > 0")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// Drops the counts whose window started more than twice `window` (and at least a day) ago:
/// over, whatever window another instance counts in; returns how many.
pub async fn prune(db: impl PgExecutor<'_>, window: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM request_counts WHERE started_at < now() - greatest(make_interval(secs => $1) * 2, interval '1 day')",
    )
    .bind(window.as_secs_f64())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
