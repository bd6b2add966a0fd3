//! The `rapport` command: serve the API, migrate, create owners, mint tokens, print the spec.

use std::process::ExitCode;

use chrono::Utc;
use clap::{Parser, Subcommand};
use rapport::auth::jwt::{JwtKeys, TokenKind};
use rapport::auth::roles::Role;
use rapport::config::{Database, Settings};
use rapport::domain::WorkspaceId;
use rapport::embedded::EmbeddedPostgres;
use rapport::startup::{self, Application};

#[derive(Parser)]
#[command(name = "rapport", version, about = "Rapport: an API-first CRM backend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (embedded PostgreSQL when DATABASE_URL is unset).
    Serve {
        /// Create the demo workspace first unless it exists (log in as demo@rapport.local /
        /// demo-password); Swagger UI's examples name its rows.
        #[arg(long)]
        demo: bool,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage owners.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Mint an API token for scripts, printed once.
    Token {
        /// Email of the user the token acts for (its workspace is the token's).
        #[arg(long)]
        email: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long, default_value = "member", value_parser = parse_role)]
        role: Role,
        /// Days until it expires; without it, until revoked.
        #[arg(long)]
        expires_days: Option<i64>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Load a workspace: the benchmark's (set-based, inside PostgreSQL) or the demo.
    Seed {
        /// The benchmark workspace: 1,000,000 customers unless --customers says otherwise.
        #[arg(long, conflicts_with = "demo")]
        bench: bool,
        /// The demo workspace (believable people, companies, interactions over 18 months,
        /// deals, reports), unless it exists.
        #[arg(long)]
        demo: bool,
        #[arg(long, requires = "bench")]
        customers: Option<i64>,
        /// Average interactions per customer.
        #[arg(long, default_value_t = 10)]
        interactions_per_customer: i64,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a workspace and its owner.
    Create {
        #[arg(long, env = "RAPPORT_ADMIN_EMAIL")]
        email: String,
        #[arg(long, env = "RAPPORT_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "Owner")]
        name: String,
        #[arg(long, env = "RAPPORT_WORKSPACE_NAME", default_value = "Rapport")]
        workspace: String,
        #[arg(long, default_value = "EUR")]
        currency: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        let doc = rapport::openapi::document();
        println!("{}", doc.to_pretty_json().unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rapport: {e}");
            return ExitCode::from(2);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rapport: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rapport: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The database URL, and the embedded server when there is one (stopped when dropped).
async fn database(settings: &Settings) -> Result<(String, Option<EmbeddedPostgres>), AnyError> {
    match &settings.database {
        Database::External(url) => Ok((url.clone(), None)),
        Database::Embedded => {
            let dir = settings.data_dir.clone();
            let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir)).await??;
            rapport::db::pool::ensure_database(&pg.url("postgres"), "rapport").await?;
            Ok((pg.url("rapport"), Some(pg)))
        }
    }
}

fn jwt_secret(settings: &Settings) -> Result<String, AnyError> {
    match &settings.jwt_secret {
        Some(s) => Ok(s.clone()),
        None => Ok(startup::embedded_jwt_secret(&settings.data_dir)?),
    }
}

async fn run(command: Command, settings: Settings) -> Result<(), AnyError> {
    let (url, embedded) = database(&settings).await?;
    rapport::db::pool::migrate(&url).await?;
    let pool = rapport::db::pool::connect(&url, settings.db_max_connections).await?;
    if matches!(command, Command::Serve { demo: true } | Command::Seed { demo: true, .. }) && embedded.is_none() {
        // Its users share a published password: never on a database someone else may reach.
        return Err("the demo workspace is made on the embedded database only (unset DATABASE_URL)".into());
    }
    let result = match command {
        Command::Serve { demo } => serve(settings, pool, embedded.is_some(), demo).await,
        Command::Migrate => {
            println!("migrations applied");
            Ok(())
        }
        Command::Admin { command: AdminCommand::Create { email, password, name, workspace, currency } } => {
            admin_create(&pool, &email, &password, &name, &workspace, &currency).await
        }
        Command::Token { email, name, role, expires_days } => {
            mint_token(&pool, &settings, &email, &name, role, expires_days).await
        }
        Command::Openapi => Ok(()),
        Command::Seed { bench, demo, customers, interactions_per_customer } => {
            if demo {
                demo_workspace(&pool).await
            } else if bench {
                let options = rapport::seed::SeedOptions {
                    customers: customers.unwrap_or(1_000_000),
                    interactions_per_customer,
                    workspace_name: "Bench".into(),
                };
                rapport::seed::seed(&pool, &options).await.map(|_| ())
            } else {
                Err("say --bench or --demo".into())
            }
        }
    };
    drop(embedded);
    result
}

/// Creates the demo workspace unless it exists, and says which.
async fn demo_workspace(pool: &sqlx::PgPool) -> Result<(), AnyError> {
    if !rapport::demo::create(pool).await? {
        println!("the demo workspace exists; log in as {} / {}", rapport::demo::EMAIL, rapport::demo::PASSWORD);
    }
    Ok(())
}

async fn serve(settings: Settings, pool: sqlx::PgPool, embedded: bool, demo: bool) -> Result<(), AnyError> {
    let first = startup::bootstrap(&pool, &settings, embedded).await.map_err(|e| e.to_string())?;
    if demo {
        demo_workspace(&pool).await?;
    }
    let secret = jwt_secret(&settings)?;
    let host = settings.host;
    let data_dir = settings.data_dir.display().to_string();
    let app = Application::build(settings, pool.clone(), secret.as_bytes(), rapport::openapi::document()).await?;
    let base = format!("http://{host}:{}", app.port());
    println!("Rapport {} is listening on {base}", env!("CARGO_PKG_VERSION"));
    println!("  API:         {base}/api/v1");
    println!("  Swagger UI:  {base}/swagger-ui/");
    println!("  Health:      {base}/health/ready");
    if embedded {
        println!("  Database:    embedded PostgreSQL in {data_dir}");
    }
    match first {
        Some(FirstOwnerView { email, generated_password: Some(password) }) => {
            println!("  First owner: {email} / {password}   (generated: shown this once, keep it)");
            println!("  Log in:      curl -s {base}/api/v1/auth/login -H 'content-type: application/json' \\");
            println!("                 -d '{{\"email\":\"{email}\",\"password\":\"{password}\"}}'");
        }
        Some(FirstOwnerView { email, generated_password: None }) => {
            println!("  First owner: {email} (password from RAPPORT_ADMIN_PASSWORD)");
        }
        None => println!("  Log in:      POST {base}/api/v1/auth/login {{\"email\",\"password\"}}"),
    }
    if demo {
        println!(
            "  Demo:        {} / {}   (Swagger UI's examples name its rows)",
            rapport::demo::EMAIL,
            rapport::demo::PASSWORD
        );
    }
    app.run_until_stopped().await?;
    // In-flight requests are done: let go of the database before it stops.
    pool.close().await;
    println!("Rapport stopped");
    Ok(())
}

use startup::FirstOwner as FirstOwnerView;

async fn admin_create(
    pool: &sqlx::PgPool,
    email: &str,
    password: &str,
    name: &str,
    workspace: &str,
    currency: &str,
) -> Result<(), AnyError> {
    let field = |flag: &str, e: rapport::error::FieldError| format!("{flag} {}", e.message);
    rapport::auth::password::validate("--password", password).map_err(|e| field("--password", e))?;
    let new = rapport::app::workspace::NewWorkspace {
        name: rapport::domain::Name::parse("--workspace", workspace).map_err(|e| field("--workspace", e))?,
        currency: rapport::domain::Currency::parse("--currency", currency).map_err(|e| field("--currency", e))?,
        owner_email: rapport::domain::Email::parse("--email", email).map_err(|e| field("--email", e))?,
        owner_name: rapport::domain::Name::parse("--name", name).map_err(|e| field("--name", e))?,
        password_hash: rapport::auth::password::hash(password.to_owned()).await.map_err(|e| e.to_string())?,
    };
    let mut tx = pool.begin().await?;
    let (ws, user) = rapport::app::workspace::create(&mut tx, new, rapport::app::workspace::MadeBy::System)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await?;
    println!("created workspace {} ({}) with owner {} ({})", ws.name, ws.id, user.email, user.id);
    Ok(())
}

async fn mint_token(
    pool: &sqlx::PgPool,
    settings: &Settings,
    email: &str,
    name: &str,
    role: Role,
    expires_days: Option<i64>,
) -> Result<(), AnyError> {
    let accounts = rapport::db::users::credentials(pool, email, None).await?;
    let [user] = accounts.as_slice() else {
        return Err(format!("expected exactly one user with email {email}, found {}", accounts.len()).into());
    };
    let ws = WorkspaceId(user.workspace_id);
    let expires_at = expires_days.map(|d| Utc::now() + chrono::Duration::days(d));
    if role > user.role {
        return Err(format!("the token's role cannot exceed the user's ({})", user.role.as_str()).into());
    }
    // Issued to the user by the operator: the CLI may mint a token for any user (whatever its
    // role lets it do through the API), never beyond the user's role.
    let actor = rapport::app::Actor {
        workspace_id: ws,
        role: Role::Owner,
        principal: rapport::app::Principal::User(user.id),
        request_id: None,
    };
    let new = rapport::app::api_tokens::NewApiToken {
        name: rapport::domain::Name::parse("--name", name).map_err(|e| format!("--name {}", e.message))?,
        role,
        expires_at,
    };
    let mut tx = pool.begin().await?;
    let token = rapport::app::api_tokens::create(&mut tx, &actor, new).await.map_err(|e| match e {
        rapport::error::ApiError::Validation(errors) => {
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    })?;
    tx.commit().await?;
    let secret = jwt_secret(settings)?;
    let keys = JwtKeys::new(secret.as_bytes(), &settings.jwt_issuer, &settings.jwt_audience);
    let exp = expires_at.map_or(Utc::now().timestamp() + 100 * 365 * 24 * 3600, |e| e.timestamp());
    println!("{}", keys.sign(user.id, ws.0, role, token.id, TokenKind::Api, exp, 0));
    Ok(())
}
