//! Synthetic workspaces: `rapport seed --bench --customers 1000000` for the benchmarks,
//! `--demo` for a small one. The workspace is made like any other (`app::workspace`), then
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
    println!("seeded in {:.1} s; log in as {BENCH_EMAIL} / {BENCH_PASSWORD}", started.elapsed().as_secs_f64());
    Ok(ws)
}
