//! The rollups behind the analytics, kept exact by triggers in the same transaction as every
//! write (migrations `0005_customer_activity.sql`, `0014_interaction_hours.sql`).
//!
//! `interaction_hours` is written in two steps so that writers never wait on each other: each
//! statement on interactions appends its signed changes to `interaction_hour_changes`, and
//! [`fold`] (the `rollups` job) moves them into `interaction_hours`. Readers add both tables.

use sqlx::PgPool;

/// Changes folded per transaction.
const FOLD_BATCH: i32 = 50_000;

/// Folds every pending change of `interaction_hours`, a batch per transaction (another
/// instance's fold takes other changes: `SKIP LOCKED`). Returns how many it folded.
pub async fn fold(pool: &PgPool) -> sqlx::Result<i64> {
    let mut total = 0;
    loop {
        let n: i64 =
            sqlx::query_scalar("SELECT rapport_interaction_hours_fold($1)").bind(FOLD_BATCH).fetch_one(pool).await?;
        total += n;
        if n < i64::from(FOLD_BATCH) {
            return Ok(total);
        }
    }
}
