//! The benchmark workspace: `rapport seed --bench --customers 1000000` (the demo workspace has
//! a module of its own). The workspace is made like any other (`app::workspace`), then
//! filled set-based inside PostgreSQL (`db::seed`).

use std::time::Instant;

use sqlx::PgPool;

use crate::domain::WorkspaceId;

pub const BENCH_EMAIL: &str = "bench@rapport.local";
pub const BENCH_PASSWORD: &str = "bench-password";

pub struct SeedOptions {
    pub customers: i64,
    /// Average interactions per customer.
    pub interactions_per_customer: i64,
    pub workspace_name: String,
}

pub async fn seed(pool: &PgPool, opts: &SeedOptions) -> Result<WorkspaceId, Box<dyn std::error::Error + Send + Sync>> {
    let started = Instant::now();
    let hash = crate::auth::password::hash(BENCH_PASSWORD.to_owned()).await.map_err(|e| e.to_string())?;
    let new = crate::app::workspace::NewWorkspace {
        name: crate::domain::Name::parse("workspace", &opts.workspace_name).map_err(|e| e.message)?,
        currency: crate::domain::Currency::parse("currency", "EUR").map_err(|e| e.message)?,
        owner_email: crate::domain::Email::parse("email", BENCH_EMAIL).map_err(|e| e.message)?,
        owner_name: crate::domain::Name::parse("name", "Bench Owner").map_err(|e| e.message)?,
        password_hash: hash,
    };
    let mut tx = pool.begin().await?;
    let (ws, _) = crate::app::workspace::create(&mut tx, new, crate::app::workspace::MadeBy::System)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await?;
    let ws = WorkspaceId(ws.id);
    println!("seeding workspace {} ({ws}): {} customers", opts.workspace_name, opts.customers);
    crate::db::seed::load(pool, ws, opts.customers, opts.interactions_per_customer).await?;
    let mut tx = pool.begin().await?;
    let saved = saved_reports(&mut tx, &crate::app::Actor::system(ws), None).await?;
    tx.commit().await?;
    println!("saved {saved} reports, scheduled in the workspace's time zone");
    println!("seeded in {:.1} s; log in as {BENCH_EMAIL} / {BENCH_PASSWORD}", started.elapsed().as_secs_f64());
    Ok(ws)
}

/// A few useful saved reports, most of them scheduled: the weekly funnel of the sales pipeline,
/// segments by country, monthly RFM and cohorts, daily interactions by channel, and basket
/// pairs of the previous quarter on demand. The first (the funnel) gets `first_id` when given.
pub async fn saved_reports(
    tx: &mut crate::app::Tx<'_>,
    actor: &crate::app::Actor,
    first_id: Option<uuid::Uuid>,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let ws = actor.workspace_id;
    use crate::app::reports::{create, ReportFields};
    use crate::domain::schedule::ReportKind;
    use serde_json::json;
    let pipelines: Vec<crate::db::pipelines::PipelineRow> =
        crate::db::rows::oldest_first(&mut **tx, ws, None, 1).await?;
    let pipeline = pipelines.first().map(|p| p.id);
    let weekly = json!({"every": "week", "weekday": 1, "at": "07:00"});
    let reports = [
        (
            "Sales funnel, last week",
            ReportKind::Funnel,
            json!({"pipeline_id": pipeline, "range": "previous_week"}),
            weekly.clone(),
        ),
        (
            "Customers by country, last 30 days",
            ReportKind::Segments,
            json!({"dimension": "country", "range": "last_30_days"}),
            weekly,
        ),
        ("RFM segments", ReportKind::Rfm, json!({}), json!({"every": "month", "day": 1, "at": "06:00"})),
        (
            "Monthly cohorts, this year",
            ReportKind::Cohorts,
            json!({"period": "month", "range": "year_to_date"}),
            json!({"every": "month", "day": "last", "at": "20:00"}),
        ),
        (
            "Interactions by channel, yesterday",
            ReportKind::Interactions,
            json!({"bucket": "day", "group_by": "channel"}),
            json!({"every": "day", "at": "07:00"}),
        ),
        (
            "Basket pairs, previous quarter",
            ReportKind::Basket,
            json!({"min_support": "0.01", "limit": 20, "range": "previous_quarter"}),
            serde_json::Value::Null,
        ),
        (
            "Support by priority, previous week",
            ReportKind::Support,
            json!({"group_by": "priority", "range": "previous_week"}),
            json!({"every": "week", "weekday": 1, "at": "08:00"}),
        ),
    ];
    let mut saved = 0;
    for (name, kind, params, schedule) in reports {
        if kind == ReportKind::Funnel && pipeline.is_none() {
            continue;
        }
        let fields = ReportFields::parse(name, kind, &params, Some(&schedule)).map_err(|e| e.to_string())?;
        let preset = if saved == 0 { first_id } else { None };
        crate::domain::with_ids(preset, create(tx, actor, fields, chrono::Utc::now()))
            .await
            .map_err(|e| e.to_string())?;
        saved += 1;
    }
    Ok(saved)
}
