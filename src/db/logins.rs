//! Failed logins, counted per key (`email:<hash>`, `ip:<hash>`: `auth::throttle`) in fixed windows on the
//! database's clock: one count for every instance on the database.

use std::time::Duration;

use sqlx::PgExecutor;

/// Seconds until the last of `limits` (key, failures allowed) that is at its limit leaves its
/// window; `None` when none is.
pub async fn wait(
    db: impl PgExecutor<'_>,
    limits: &[(String, i32)],
    window: Duration,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT max(ceil(extract(epoch FROM f.started_at + make_interval(secs => $3) - now())))::bigint
           FROM login_failures f
           JOIN unnest($1::text[], $2::int[]) AS l (key, allowed) ON l.key = f.key
          WHERE f.failures >= l.allowed AND f.started_at + make_interval(secs => $3) > now()",
    )
    .bind(limits.iter().map(|l| l.0.clone()).collect::<Vec<_>>())
    .bind(limits.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind(window.as_secs_f64())
    .fetch_one(db)
    .await
}

/// Counts a failure for each of `keys` (a key whose window is over starts a new one), and drops
/// up to 100 windows that are over (skipping those another login holds).
pub async fn record_failure(db: impl PgExecutor<'_>, keys: &[String], window: Duration) -> Result<(), sqlx::Error> {
    let mut keys = keys.to_vec();
    // One order for every writer: two logins never wait on each other's keys in a cycle.
    keys.sort();
    keys.dedup();
    sqlx::query(
        "WITH over AS (
             DELETE FROM login_failures WHERE key IN (
                 SELECT key FROM login_failures
                  WHERE started_at <= now() - make_interval(secs => $2) AND key <> ALL($1)
                  ORDER BY started_at LIMIT 100 FOR UPDATE SKIP LOCKED))
         INSERT INTO login_failures AS f (key, failures, started_at)
         SELECT k, 1, now() FROM unnest($1::text[]) AS k ORDER BY k
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN f.started_at + make_interval(secs => $2) <= now() THEN 1
                             ELSE least(f.failures, 1000000000) + 1 END,
             started_at = CASE WHEN f.started_at + make_interval(secs => $2) <= now() THEN now() ELSE f.started_at END",
    )
    .bind(&keys)
    .bind(window.as_secs_f64())
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets the failures of `key`.
pub async fn clear(db: impl PgExecutor<'_>, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(db).await?;
    Ok(())
}
