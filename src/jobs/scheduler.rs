//! The report scheduler: runs saved reports when their schedule comes round. Each instance
//! claims due reports one at a time (`app::reports::run_due`: a lease taken with `FOR UPDATE
//! SKIP LOCKED`, a run unique per report and slot), so any number of instances run each slot
//! exactly once; a slot missed while every instance was down runs once, late, when one is back.

use sqlx::PgPool;

use super::Done;
use crate::app;
use crate::config::Clock;

/// Runs every report due now, one after the other.
pub async fn tick(pool: PgPool, clock: Clock, timeout: std::time::Duration) -> Done {
    let (mut succeeded, mut failed) = (0, 0);
    while let Some(run) = app::reports::run_due(&pool, clock.now(), timeout).await? {
        match run.status {
            crate::domain::schedule::RunStatus::Succeeded => succeeded += 1,
            crate::domain::schedule::RunStatus::Failed => failed += 1,
        }
    }
    Ok(format!("{succeeded} reports ran, {failed} failed"))
}
