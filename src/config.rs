//! Typed settings, read once at start from the environment (and `.env` if present).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A setting that could not be used: names the variable and says why.
#[derive(Debug, thiserror::Error)]
#[error("invalid value for {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `DATABASE_URL` is set: use that server.
    External(String),
    /// `DATABASE_URL` is unset: run a private PostgreSQL in the data directory.
    Embedded,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: IpAddr,
    pub port: u16,
    pub workers: usize,
    pub database: Database,
    pub data_dir: PathBuf,
    pub db_max_connections: u32,
    /// `None` means "generate one and keep it in the data directory" (embedded mode only).
    pub jwt_secret: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub allow_signup: bool,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub workspace_name: String,
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub login_max_failures: u32,
    pub login_max_failures_per_ip: u32,
    pub login_window: Duration,
    pub shutdown_timeout: Duration,
    /// Which background jobs this instance runs (`jobs`).
    pub jobs: JobSwitches,
    /// How long the event log keeps events, in days.
    pub events_retention_days: i32,
    /// How often the report scheduler looks for due reports (`RAPPORT_SCHEDULER_TICK_MS`).
    pub scheduler_tick: Duration,
    /// The longest a statement of a report run may take (`RAPPORT_REPORT_TIMEOUT_SECS`).
    pub report_timeout: Duration,
    /// How long report runs are kept, in days; a report's latest run always is.
    pub report_runs_retention_days: i32,
    /// Days after its solution a support case is closed (`RAPPORT_CASES_CLOSE_AFTER_DAYS`).
    pub cases_close_after_days: i32,
    /// How many heavy requests (analytics, report runs, export, import, batches) this
    /// instance runs at once (`http::heavy`); the others wait.
    pub heavy_concurrency: usize,
    /// How long a heavy response may go unread by its client before its permit goes back
    /// (`RAPPORT_HEAVY_IDLE_SECS`, `http::heavy`).
    pub heavy_idle: Duration,
    /// The rate limit per principal (`http::rate_limit`).
    pub rate_limit: RateLimit,
    /// Where the time comes from: the system's clock (tests set their own).
    pub clock: Clock,
}

/// Requests allowed per principal (an API token, a user's sessions, or an anonymous client
/// address) in a fixed window, before `429`; shared by every instance on the database
/// (`http::rate_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// `RAPPORT_RATE_LIMIT`: requests per window; 0 switches the limit off. Off by default
    /// with the embedded database, 3000 with `DATABASE_URL`.
    pub requests: u32,
    /// `RAPPORT_RATE_LIMIT_WINDOW_SECS`: the window, in seconds (default 60, at most a day).
    pub window: Duration,
}

/// The current time for schedules: the system's, or a time set by hand (tests of the
/// scheduler move it).
#[derive(Clone, Default)]
pub struct Clock(std::sync::Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>);

impl Clock {
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.lock().ok().and_then(|t| *t).unwrap_or_else(chrono::Utc::now)
    }

    /// From now on, the time is `at` (until set again).
    pub fn set(&self, at: chrono::DateTime<chrono::Utc>) {
        if let Ok(mut t) = self.0.lock() {
            *t = Some(at);
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.lock().ok().and_then(|t| *t) {
            Some(t) => write!(f, "Clock(set to {t})"),
            None => f.write_str("Clock(system)"),
        }
    }
}

/// The background jobs an instance may run, each on unless `RAPPORT_JOB_<NAME>=off`.
#[derive(Debug, Clone, Copy)]
pub struct JobSwitches {
    /// `RAPPORT_JOB_PURGE`: erase customers deleted more than 30 days ago.
    pub purge: bool,
    /// `RAPPORT_JOB_RETENTION`: forget old events, idempotency keys and report runs.
    pub retention: bool,
    /// `RAPPORT_SCHEDULER`: run saved reports when their schedule comes round.
    pub scheduler: bool,
    /// `RAPPORT_JOB_CLOSE_CASES`: close support cases solved `RAPPORT_CASES_CLOSE_AFTER_DAYS` ago.
    pub close_cases: bool,
    /// `RAPPORT_JOB_ROLLUPS`: fold the analytics rollups' pending changes and convert customers'
    /// active periods after a change of time zone, every second.
    pub rollups: bool,
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Settings {
    /// Reads the process environment (after loading `.env` if there is one).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Builds settings from a map of variables; every missing variable takes its default.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let database = match get("DATABASE_URL") {
            Some(url) => {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(ConfigError {
                        variable: "DATABASE_URL",
                        reason: "must be a postgres:// or postgresql:// URL".into(),
                    });
                }
                Database::External(url)
            }
            None => Database::Embedded,
        };
        let jwt_secret = get("RAPPORT_JWT_SECRET");
        if let Some(secret) = &jwt_secret {
            if secret.len() < MIN_JWT_SECRET_BYTES {
                return Err(ConfigError {
                    variable: "RAPPORT_JWT_SECRET",
                    reason: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
                });
            }
        } else if database != Database::Embedded {
            return Err(ConfigError {
                variable: "RAPPORT_JWT_SECRET",
                reason: format!("must be set (at least {MIN_JWT_SECRET_BYTES} bytes) when DATABASE_URL is set"),
            });
        }
        let default_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let default_rate_limit = if database == Database::Embedded { "0" } else { "3000" };
        let settings = Settings {
            host: parse(vars, "RAPPORT_HOST", "127.0.0.1")?,
            port: parse(vars, "RAPPORT_PORT", "8080")?,
            workers: parse(vars, "RAPPORT_WORKERS", &default_workers.to_string())?,
            database,
            data_dir: PathBuf::from(get("RAPPORT_DATA_DIR").unwrap_or_else(|| "./.rapport".into())),
            db_max_connections: parse(vars, "RAPPORT_DB_MAX_CONNECTIONS", "16")?,
            jwt_secret,
            jwt_issuer: get("RAPPORT_JWT_ISSUER").unwrap_or_else(|| "rapport".into()),
            jwt_audience: get("RAPPORT_JWT_AUDIENCE").unwrap_or_else(|| "rapport-api".into()),
            access_token_ttl: Duration::from_secs(parse(vars, "RAPPORT_ACCESS_TOKEN_TTL_SECS", "900")?),
            refresh_token_ttl: Duration::from_secs(parse(vars, "RAPPORT_REFRESH_TOKEN_TTL_SECS", "2592000")?),
            allow_signup: parse_bool(vars, "RAPPORT_ALLOW_SIGNUP", false)?,
            admin_email: get("RAPPORT_ADMIN_EMAIL"),
            admin_password: get("RAPPORT_ADMIN_PASSWORD"),
            workspace_name: get("RAPPORT_WORKSPACE_NAME").unwrap_or_else(|| "Rapport".into()),
            cors_origins: get("RAPPORT_CORS_ORIGINS")
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
            max_body_bytes: parse(vars, "RAPPORT_MAX_BODY_BYTES", "8388608")?,
            login_max_failures: parse(vars, "RAPPORT_LOGIN_MAX_FAILURES", "5")?,
            login_max_failures_per_ip: parse(vars, "RAPPORT_LOGIN_MAX_FAILURES_PER_IP", "50")?,
            login_window: Duration::from_secs(parse(vars, "RAPPORT_LOGIN_WINDOW_SECS", "900")?),
            shutdown_timeout: Duration::from_secs(parse(vars, "RAPPORT_SHUTDOWN_TIMEOUT_SECS", "30")?),
            jobs: JobSwitches {
                purge: parse_bool(vars, "RAPPORT_JOB_PURGE", true)?,
                retention: parse_bool(vars, "RAPPORT_JOB_RETENTION", true)?,
                scheduler: parse_bool(vars, "RAPPORT_SCHEDULER", true)?,
                close_cases: parse_bool(vars, "RAPPORT_JOB_CLOSE_CASES", true)?,
                rollups: parse_bool(vars, "RAPPORT_JOB_ROLLUPS", true)?,
            },
            events_retention_days: parse(vars, "RAPPORT_EVENTS_RETENTION_DAYS", "90")?,
            scheduler_tick: Duration::from_millis(parse(vars, "RAPPORT_SCHEDULER_TICK_MS", "10000")?),
            report_timeout: Duration::from_secs(parse(vars, "RAPPORT_REPORT_TIMEOUT_SECS", "300")?),
            report_runs_retention_days: parse(vars, "RAPPORT_REPORT_RUNS_RETENTION_DAYS", "400")?,
            cases_close_after_days: parse(vars, "RAPPORT_CASES_CLOSE_AFTER_DAYS", "4")?,
            heavy_concurrency: parse(vars, "RAPPORT_HEAVY_CONCURRENCY", &default_workers.to_string())?,
            heavy_idle: Duration::from_secs(parse(vars, "RAPPORT_HEAVY_IDLE_SECS", "30")?),
            rate_limit: RateLimit {
                requests: parse(vars, "RAPPORT_RATE_LIMIT", default_rate_limit)?,
                window: Duration::from_secs(parse(vars, "RAPPORT_RATE_LIMIT_WINDOW_SECS", "60")?),
            },
            clock: Clock::default(),
        };
        positive("RAPPORT_WORKERS", settings.workers as u64)?;
        positive("RAPPORT_DB_MAX_CONNECTIONS", settings.db_max_connections.into())?;
        positive("RAPPORT_ACCESS_TOKEN_TTL_SECS", settings.access_token_ttl.as_secs())?;
        positive("RAPPORT_REFRESH_TOKEN_TTL_SECS", settings.refresh_token_ttl.as_secs())?;
        positive("RAPPORT_MAX_BODY_BYTES", settings.max_body_bytes as u64)?;
        positive("RAPPORT_LOGIN_MAX_FAILURES", settings.login_max_failures.into())?;
        positive("RAPPORT_LOGIN_MAX_FAILURES_PER_IP", settings.login_max_failures_per_ip.into())?;
        positive("RAPPORT_LOGIN_WINDOW_SECS", settings.login_window.as_secs())?;
        positive("RAPPORT_EVENTS_RETENTION_DAYS", settings.events_retention_days.max(0) as u64)?;
        positive("RAPPORT_SCHEDULER_TICK_MS", settings.scheduler_tick.as_millis() as u64)?;
        positive("RAPPORT_REPORT_TIMEOUT_SECS", settings.report_timeout.as_secs())?;
        positive("RAPPORT_REPORT_RUNS_RETENTION_DAYS", settings.report_runs_retention_days.max(0) as u64)?;
        positive("RAPPORT_CASES_CLOSE_AFTER_DAYS", settings.cases_close_after_days.max(0) as u64)?;
        positive("RAPPORT_HEAVY_CONCURRENCY", settings.heavy_concurrency as u64)?;
        positive("RAPPORT_HEAVY_IDLE_SECS", settings.heavy_idle.as_secs())?;
        positive("RAPPORT_RATE_LIMIT_WINDOW_SECS", settings.rate_limit.window.as_secs())?;
        if settings.rate_limit.window > Duration::from_secs(86_400) {
            return Err(ConfigError {
                variable: "RAPPORT_RATE_LIMIT_WINDOW_SECS",
                reason: "must be at most 86400 (a day)".into(),
            });
        }
        if settings.admin_email.is_some() != settings.admin_password.is_some() {
            return Err(ConfigError {
                variable: "RAPPORT_ADMIN_PASSWORD",
                reason: "RAPPORT_ADMIN_EMAIL and RAPPORT_ADMIN_PASSWORD go together".into(),
            });
        }
        Ok(settings)
    }
}

fn parse<T: FromStr>(vars: &HashMap<String, String>, name: &'static str, default: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let raw = vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).unwrap_or(default);
    raw.parse::<T>().map_err(|e| ConfigError { variable: name, reason: format!("{raw:?}: {e}") })
}

fn parse_bool(vars: &HashMap<String, String>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match vars.get(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError { variable: name, reason: format!("{other:?} is not a boolean (true/false)") }),
    }
}

fn positive(name: &'static str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError { variable: name, reason: "must be greater than 0".into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// `.env.example` states every variable Rapport reads, each value it shows is accepted, and
    /// each default it shows is the one applied.
    #[test]
    fn env_example_is_complete_and_true() {
        let example = include_str!("../.env.example");
        let mut shown = HashMap::new();
        let mut named = Vec::new();
        for line in example.lines() {
            let (commented, line) = match line.strip_prefix("# ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            if let Some((name, value)) = line.split_once('=') {
                if name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') && !name.is_empty() {
                    named.push(name.to_owned());
                    if !commented {
                        shown.insert(name.to_owned(), value.to_owned());
                    }
                }
            }
        }
        let source = include_str!("config.rs");
        let read: Vec<&str> = source
            .split('"')
            .filter(|s| (s.starts_with("RAPPORT_") || *s == "DATABASE_URL") && !s.contains(' ') && !s.ends_with('_'))
            .collect();
        for name in read {
            assert!(named.iter().any(|n| n == name), "{name} is read but not in .env.example");
        }
        let with_example = Settings::from_vars(&shown).expect(".env.example's values are valid");
        let defaults = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!(format!("{with_example:?}"), format!("{defaults:?}"), "the defaults .env.example shows");
    }

    #[test]
    fn defaults_are_embedded() {
        let s = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!(s.database, Database::Embedded);
        assert_eq!(s.port, 8080);
        assert!(s.jwt_secret.is_none());
    }

    #[test]
    fn the_rate_limit_is_off_when_embedded_and_on_with_a_database_url() {
        let embedded = Settings::from_vars(&HashMap::new()).unwrap();
        assert_eq!(embedded.rate_limit.requests, 0);
        let external = Settings::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("RAPPORT_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ]))
        .unwrap();
        assert_eq!(external.rate_limit, RateLimit { requests: 3000, window: Duration::from_secs(60) });
        for bad in ["0", "86401"] {
            let err = Settings::from_vars(&vars(&[("RAPPORT_RATE_LIMIT_WINDOW_SECS", bad)])).unwrap_err();
            assert_eq!(err.variable, "RAPPORT_RATE_LIMIT_WINDOW_SECS");
        }
    }

    #[test]
    fn invalid_value_names_the_variable() {
        let err = Settings::from_vars(&vars(&[("RAPPORT_PORT", "eighty")])).unwrap_err();
        assert_eq!(err.variable, "RAPPORT_PORT");
        let err = Settings::from_vars(&vars(&[("RAPPORT_ALLOW_SIGNUP", "maybe")])).unwrap_err();
        assert_eq!(err.variable, "RAPPORT_ALLOW_SIGNUP");
    }

    #[test]
    fn external_database_needs_a_long_secret() {
        let err = Settings::from_vars(&vars(&[("DATABASE_URL", "postgres://x/y")])).unwrap_err();
        assert_eq!(err.variable, "RAPPORT_JWT_SECRET");
        let err = Settings::from_vars(&vars(&[("DATABASE_URL", "postgres://x/y"), ("RAPPORT_JWT_SECRET", "short")]))
            .unwrap_err();
        assert_eq!(err.variable, "RAPPORT_JWT_SECRET");
        let ok = Settings::from_vars(&vars(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("RAPPORT_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ]));
        assert!(ok.is_ok());
    }
}
