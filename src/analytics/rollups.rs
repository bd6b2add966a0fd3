//! The rollups behind the analytics, kept exact by triggers in the same transaction as every
//! write (migrations `0005_customer_activity.sql`, `0014_interaction_hours.sql`,
//! `0017_rfm_counts.sql`).
//!
//! `interaction_hours` and `rfm_counts` are written in two steps so that writers never wait on
//! each other: each statement appends its signed changes to `interaction_hour_changes` or
//! `rfm_count_changes`, and [`fold`] (the `rollups` job) moves them into the rollup. Readers add
//! both tables.

use sqlx::PgPool;

/// Changes folded per transaction.
const FOLD_BATCH: i32 = 50_000;

/// The fold function of each two-step rollup: `(most integer) → bigint`, how many it folded.
const FOLDS: [&str; 2] = ["rapport_interaction_hours_fold", "rapport_rfm_counts_fold"];

/// Folds every pending change of the two-step rollups, a batch per transaction (another
/// instance's fold takes other changes: `SKIP LOCKED`). Returns how many it folded.
pub async fn fold(pool: &PgPool) -> sqlx::Result<i64> {
    let mut total = 0;
    for function in FOLDS {
        let sql = format!("SELECT {function}($1)");
        loop {
            let n: i64 = sqlx::query_scalar(&sql).bind(FOLD_BATCH).fetch_one(pool).await?;
            total += n;
            if n < i64::from(FOLD_BATCH) {
                break;
            }
        }
    }
    Ok(total)
}
