//! Background work of `rapport serve`, in one place. Each job runs on its own task, can be
//! switched off per instance (`RAPPORT_JOB_<NAME>=off`), claims work shared by every instance
//! with `FOR UPDATE SKIP LOCKED` (or statements safe to run twice), logs its runs, and stops
//! cleanly when the server does.
//!
//! - `revocation` (always on: without it an instance would not hear of revoked credentials):
//!   listens for revoked API tokens and changed users (`auth::revocation`);
//! - `purge`: erases customers soft-deleted more than 30 days ago (`app::customers`), every
//!   10 minutes;
//! - `retention`: forgets events older than `RAPPORT_EVENTS_RETENTION_DAYS`, rate-limit windows long over, idempotency keys
//!   older than 24 h and report runs older than `RAPPORT_REPORT_RUNS_RETENTION_DAYS` (but each
//!   report's latest), every 10 minutes;
//! - `scheduler` (`RAPPORT_SCHEDULER=off` to switch it off): runs saved reports whose schedule
//!   has come round, every `RAPPORT_SCHEDULER_TICK_MS`;
//! - `close-cases`: closes support cases solved more than `RAPPORT_CASES_CLOSE_AFTER_DAYS` ago
//!   (`app::support::close_solved`), every 10 minutes;
//! - `rollups`: folds the analytics rollups' pending changes and converts customers' active
//!   periods after a change of time zone (`analytics::rollups::fold`), every second; its runs
//!   are logged at debug level.

mod housekeeping;
pub mod scheduler;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::Level;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::revocation::{self, RevokedTokens, UserStates};
use crate::config::Settings;

/// The jobs an instance runs.
pub struct Jobs {
    stop: watch::Sender<bool>,
    running: Vec<(&'static str, JoinHandle<()>)>,
}

/// What a run of a job did, for its log line.
pub type Done = Result<String, crate::error::ApiError>;

/// Starts the jobs `settings` leaves on.
pub fn start(pool: &PgPool, settings: &Settings, revoked: Arc<RevokedTokens>, users: Arc<UserStates>) -> Jobs {
    let (stop, stopped) = watch::channel(false);
    let mut running = Vec::new();
    let listener = {
        let (pool, mut stopped) = (pool.clone(), stopped.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = revocation::listen(pool, revoked, users) => {}
                _ = stopped.changed() => {}
            }
        })
    };
    running.push(("revocation", listener));
    let every = Duration::from_secs(600);
    if settings.jobs.purge {
        let pool = pool.clone();
        running.push((
            "purge",
            periodic("purge", every, Level::Info, stopped.clone(), move || housekeeping::purge(pool.clone())),
        ));
    }
    if settings.jobs.retention {
        let (pool, days) = (pool.clone(), (settings.events_retention_days, settings.report_runs_retention_days));
        let window = settings.rate_limit.window;
        running.push((
            "retention",
            periodic("retention", every, Level::Info, stopped.clone(), move || {
                housekeeping::retention(pool.clone(), days.0, days.1, window)
            }),
        ));
    }
    if settings.jobs.scheduler {
        let (pool, clock, timeout) = (pool.clone(), settings.clock.clone(), settings.report_timeout);
        running.push((
            "scheduler",
            periodic("scheduler", settings.scheduler_tick, Level::Info, stopped.clone(), move || {
                scheduler::tick(pool.clone(), clock.clone(), timeout)
            }),
        ));
    }
    if settings.jobs.close_cases {
        let (pool, clock, days) = (pool.clone(), settings.clock.clone(), settings.cases_close_after_days);
        running.push((
            "close-cases",
            periodic("close-cases", every, Level::Info, stopped.clone(), move || {
                housekeeping::close_cases(pool.clone(), clock.clone(), days)
            }),
        ));
    }
    if settings.jobs.rollups {
        let pool = pool.clone();
        running.push((
            "rollups",
            periodic("rollups", Duration::from_secs(1), Level::Debug, stopped.clone(), move || {
                let pool = pool.clone();
                async move {
                    Ok(format!("{} changes folded and rows converted", crate::analytics::rollups::fold(&pool).await?))
                }
            }),
        ));
    }
    log::info!("background jobs: {}", running.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "));
    Jobs { stop, running }
}

impl Jobs {
    /// Asks every job to stop and waits for them (a run in progress finishes first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for (name, handle) in self.running {
            if let Err(e) = handle.await {
                log::warn!("job {name} ended badly: {e}");
            }
        }
    }
}

/// Runs `run` now and then every `every`, until asked to stop; logs each run that succeeds at
/// `level` (a failed one is a warning).
fn periodic<F, Fut>(
    name: &'static str,
    every: Duration,
    level: Level,
    mut stopped: watch::Receiver<bool>,
    run: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Done> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        // A run longer than `every` is followed by a whole `every`, not by a burst of runs.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.changed() => return,
            }
            let started = Instant::now();
            match run().await {
                Ok(did) => log::log!(level, "job {name}: {did} in {} ms", started.elapsed().as_millis()),
                Err(e) => log::warn!("job {name} failed: {e}"),
            }
            if *stopped.borrow() {
                return;
            }
        }
    })
}
