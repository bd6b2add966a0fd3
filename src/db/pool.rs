//! Connections: the pool every part shares, migrations, and the database itself.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// How close a word must be to the query to count as a typo of it, in customer search
/// (pg_trgm word similarity): with 0.4, "jonh" finds "John" (0.4) and "smiht" "Smith" (0.5).
pub const SEARCH_SIMILARITY: &str = "0.4";

/// How long a request waits for a connection before it gets `503` with `Retry-After`: while
/// the database restarts, or every connection is busy.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool settings shared by the server and the tests. Each new connection loads pg_trgm first
/// and then sets the search threshold (set before the library is loaded, the value would be
/// a placeholder that parallel workers refuse). Connect after migrating.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new().max_connections(max_connections).acquire_timeout(ACQUIRE_TIMEOUT).after_connect(|conn, _| {
        Box::pin(async move {
            if sqlx::query("SELECT show_trgm('')").execute(&mut *conn).await.is_ok() {
                sqlx::query(&format!("SET pg_trgm.word_similarity_threshold = {SEARCH_SIMILARITY}"))
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        })
    })
}

/// The pool. Statements slower than a second are logged with their SQL text at `debug` only
/// (`RUST_LOG=sqlx=debug`): at the default level a long seed or report prints no SQL.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    use sqlx::ConnectOptions;
    let options = PgConnectOptions::from_str(url)?.log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    pool_options(max_connections).connect_with(options).await
}

/// Applies the migrations over a connection of its own, then repairs what a restore may have
/// left behind ([`repair`]).
pub async fn migrate(url: &str) -> Result<(), sqlx::migrate::MigrateError> {
    let pool = PgPoolOptions::new().max_connections(1).connect_with(PgConnectOptions::from_str(url)?).await?;
    super::MIGRATOR.run(&pool).await?;
    repair(&pool).await?;
    pool.close().await;
    Ok(())
}

/// Makes each workspace's case-number sequence if it is missing, and moves it past the
/// workspace's highest case number if it is behind (a database restored from a dump of some
/// tables, or promoted from a logical replica: neither carries sequences).
pub async fn repair(db: impl sqlx::PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT rapport_case_numbers_repair()").execute(db).await?;
    Ok(())
}

/// Creates `database` on the server of `admin_url` if it does not exist.
pub async fn ensure_database(admin_url: &str, database: &str) -> Result<(), sqlx::Error> {
    let pool = connect(admin_url, 1).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(database)
        .fetch_one(&pool)
        .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE \"{}\"", database.replace('"', ""))).execute(&pool).await?;
    }
    pool.close().await;
    Ok(())
}
