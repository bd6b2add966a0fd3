//! The rollups behind the analytics, kept exact by triggers in the same transaction as every
//! write (migrations `0005_customer_activity.sql`, `0014_interaction_hours.sql`,
//! `0017_rfm_counts.sql`, `0021_customer_periods.sql`, `0022_segment_hours.sql`).
//!
//! `interaction_hours`, `rfm_counts` and `segment_hours` are written in two steps so that
//! writers never wait on each other: each statement appends its signed changes to
//! `interaction_hour_changes`, `rfm_count_changes` or `segment_hour_changes`, and [`fold`] (the
//! `rollups` job) moves them into the rollup. Readers add both tables.
//!
//! `customer_activity`'s active periods (local weeks and months) depend on the workspace's time
//! zone; after a change of zone, [`fold`] also converts the rows, a batch per transaction.
//! Cohorts read a row only when it is in the workspace's zone, so they stay exact meanwhile.

use sqlx::PgPool;

/// Changes folded per transaction.
const FOLD_BATCH: i32 = 50_000;

/// The fold function of each two-step rollup: `(most integer) → bigint`, how many it folded.
const FOLDS: [&str; 3] = ["rapport_interaction_hours_fold", "rapport_rfm_counts_fold", "rapport_segment_hours_fold"];

/// Customers' rows converted to a new time zone per transaction.
const PASS_BATCH: i32 = 5_000;

/// Conversion steps per call of [`fold`] at most (a million customers' rows at [`PASS_BATCH`]);
/// the next call goes on.
const PASS_STEPS: usize = 200;

/// Folds every pending change of the two-step rollups, a batch per transaction (another
/// instance's fold takes other changes: `SKIP LOCKED`), then goes on with the conversions of
/// active periods to a new time zone under way. Returns how many changes it folded and rows it
/// went over.
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
    for _ in 0..PASS_STEPS {
        let n: i64 =
            sqlx::query_scalar("SELECT rapport_customer_periods_pass($1)").bind(PASS_BATCH).fetch_one(pool).await?;
        if n == 0 {
            break;
        }
        total += n;
    }
    Ok(total)
}
