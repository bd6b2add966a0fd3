//! Requests per principal in fixed windows on the database's clock, for the rate limiter
//! (`http::rate_limit`): one count for every instance on the database. A key's window starts with its first request and lasts `window`; the first request
//! after it starts the next.

use std::time::Duration;

use sqlx::PgExecutor;

/// Adds `(key, requests)` to the counts, each in its window of `window` (a key whose window
/// is over starts a new one with them), and returns each key's count in its window and the
/// time until the window ends. One statement, the keys in one order for every instance.
pub async fn add(
    db: impl PgExecutor<'_>,
    counts: &[(String, i64)],
    window: Duration,
) -> Result<Vec<(String, i64, Duration)>, sqlx::Error> {
    let rows: Vec<(String, i64, f64)> = sqlx::query_as(
        "INSERT INTO request_counts AS c (key, requests, started_at)
         SELECT k, least(n, 1000000000), now() FROM unnest($1::text[], $2::bigint[]) AS u (k, n) ORDER BY k
         ON CONFLICT (key) DO UPDATE SET
             requests = CASE WHEN c.started_at + make_interval(secs => $3) <= now() THEN excluded.requests
                             ELSE least(c.requests::bigint + excluded.requests, 1000000000) END,
             started_at = CASE WHEN c.started_at + make_interval(secs => $3) <= now() THEN now() ELSE c.started_at END
         RETURNING key, requests::bigint,
                   greatest(0, extract(epoch FROM started_at + make_interval(secs => $3) - now()))::float8",
    )
    .bind(counts.iter().map(|c| c.0.clone()).collect::<Vec<_>>())
    .bind(counts.iter().map(|c| c.1).collect::<Vec<_>>())
    .bind(window.as_secs_f64())
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(key, n, left)| (key, n, Duration::from_secs_f64(left))).collect())
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
