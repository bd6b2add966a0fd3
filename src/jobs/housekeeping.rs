//! Housekeeping: what the restore window and the retention periods let go.

use sqlx::PgPool;

use super::Done;
use crate::app;
use crate::db;

/// Erases, workspace by workspace, the customers deleted more than 30 days ago; each batch in
/// a transaction of its own that locks its customers (`SKIP LOCKED`: another instance's purge
/// takes others).
pub async fn purge(pool: PgPool) -> Done {
    let mut erased = 0;
    for ws in db::customers::workspaces_with_expired(&pool).await? {
        loop {
            let mut tx = pool.begin().await?;
            let n = app::customers::purge_expired(&mut tx, ws).await?;
            tx.commit().await?;
            erased += n;
            if n == 0 {
                break;
            }
        }
    }
    Ok(format!("{erased} customers erased"))
}

/// Closes the support cases solved more than `days` ago, a batch per transaction (`SKIP
/// LOCKED`: another instance takes others).
pub async fn close_cases(pool: PgPool, clock: crate::config::Clock, days: i32) -> Done {
    let now = clock.now();
    let mut closed = 0;
    loop {
        let mut tx = pool.begin().await?;
        let n = app::support::close_solved(&mut tx, now - chrono::Duration::days(days.into()), now, 500).await?;
        tx.commit().await?;
        closed += n;
        if n < 500 {
            break;
        }
    }
    Ok(format!("{closed} solved cases closed"))
}

/// Forgets events older than `event_days`, idempotency keys older than 24 h, report runs
/// older than `run_days` (never a report's latest), a batch at a time, and the request counts
/// of rate-limit windows (of `window`) long over.
pub async fn retention(pool: PgPool, event_days: i32, run_days: i32, window: std::time::Duration) -> Done {
    let (mut events, mut runs) = (0, 0);
    loop {
        let n = db::events::prune(&pool, event_days, 10_000).await?;
        events += n;
        if n == 0 {
            break;
        }
    }
    loop {
        let n = db::reports::prune_runs(&pool, run_days, 10_000).await?;
        runs += n;
        if n == 0 {
            break;
        }
    }
    let keys = db::idempotency::sweep(&pool).await?;
    let counts = db::request_counts::prune(&pool, window).await?;
    Ok(format!("{events} events, {runs} report runs, {keys} idempotency keys and {counts} request counts forgotten"))
}
