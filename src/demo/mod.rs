//! The demo workspace (`rapport serve --demo`, `rapport seed --demo`): a small B2B software
//! vendor's CRM that looks alive — people and companies in a dozen countries, 18 months of
//! interactions with subjects on every channel, deals that spend days and weeks in each stage
//! of two pipelines, users, an API token and saved reports with a run. Everything is made
//! through the use cases (`app`), as a user would make it; the data is the same on every run
//! (a seeded generator), relative to the day it is made.
//!
//! Its showcase rows get fixed ids ([`ids`]): the OpenAPI document names them in its examples,
//! so Swagger UI's "Try it out" defaults work against the demo as they are.

mod activity;
mod cases;
mod people;

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sqlx::PgPool;
use uuid::Uuid;

use crate::app::{self, Actor};
use crate::domain::{with_ids, Currency, Email, Name, Role, Timezone, WorkspaceId};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The demo owner's login.
pub const EMAIL: &str = "demo@rapport.local";
/// The demo owner's password (a demo's, printed on every start).
pub const PASSWORD: &str = "demo-password";

/// The ids of the demo's showcase rows, named by the OpenAPI examples.
pub mod ids {
    use uuid::Uuid;

    /// A UUID v7 (version and variant bits set) whose last bits are `n`.
    const fn id(n: u16) -> Uuid {
        Uuid::from_u128(0x0193_8a52_6c00_7000_8000_0000_0000_0000 | n as u128)
    }

    pub const WORKSPACE: Uuid = id(0x001);
    /// The owner, `demo@rapport.local`.
    pub const OWNER: Uuid = id(0x002);
    /// The default channels, in the order a workspace starts with them: email, phone, chat,
    /// SMS, MMS, fax, social, web, in person.
    pub const CHANNELS: [Uuid; 9] =
        [id(0x011), id(0x012), id(0x013), id(0x014), id(0x015), id(0x016), id(0x017), id(0x018), id(0x019)];
    pub const EMAIL_CHANNEL: Uuid = CHANNELS[0];
    /// The default pipeline, "Sales", and its stages: need identified, qualified, proposal,
    /// negotiation, won, lost.
    pub const PIPELINE: Uuid = id(0x021);
    pub const STAGES: [Uuid; 6] = [id(0x022), id(0x023), id(0x024), id(0x025), id(0x026), id(0x027)];
    pub const NEGOTIATION_STAGE: Uuid = STAGES[3];
    /// The second pipeline, "Renewals".
    pub const RENEWALS: Uuid = id(0x031);
    /// An admin, Priya Nair.
    pub const USER: Uuid = id(0x041);
    /// Lena Fischer of Helios Solar GmbH (Berlin): a person with custom fields, a long
    /// timeline and an open deal.
    pub const CUSTOMER: Uuid = id(0x101);
    /// Helios Solar GmbH, the company Lena Fischer works for.
    pub const COMPANY: Uuid = id(0x102);
    /// An email from Lena Fischer.
    pub const INTERACTION: Uuid = id(0x201);
    /// "Helios Solar — 40 Pro seats", in negotiation.
    pub const DEAL: Uuid = id(0x301);
    /// The saved report "Sales funnel, last week".
    pub const REPORT: Uuid = id(0x401);
    /// A run of that report.
    pub const RUN: Uuid = id(0x402);
    /// The API token "Zapier sync".
    pub const API_TOKEN: Uuid = id(0x501);
    /// The SLA policy "Standard support".
    pub const SLA_POLICY: Uuid = id(0x601);
    /// Lena Fischer's case "CSV export times out for 40k rows", high priority, new.
    pub const CASE: Uuid = id(0x602);
}

/// Creates the demo workspace unless it exists; `Ok(false)` when it did. Prints a progress bar
/// on a terminal.
pub async fn create(pool: &PgPool) -> Result<bool, AnyError> {
    let now = Utc::now();
    if crate::db::workspaces::get(pool, WorkspaceId(ids::WORKSPACE)).await?.is_some() {
        // Made, but perhaps not run yet (a start stopped between the two).
        let owner = Actor::from_user(WorkspaceId(ids::WORKSPACE), Role::Owner, ids::OWNER);
        if app::reports::run(pool, &owner, ids::REPORT, ids::RUN).await.is_err() {
            first_run(pool, &owner, now).await?;
        }
        return Ok(false);
    }
    let mut rng = StdRng::seed_from_u64(20_261_130);
    // Everything in one transaction: a failure leaves no half-made demo behind.
    let mut tx = pool.begin().await?;
    let owner = workspace(&mut tx, now).await?;
    let users = team(&mut tx, &owner).await?;
    let mut people = people::crowd(&mut rng, now);
    let progress = indicatif::ProgressBar::new((people.len() + activity::DEALS + activity::RENEWAL_DEALS) as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    progress.set_message("customers");
    let customers = people::customers(&mut tx, &owner, &users, &mut people, &progress).await?;
    progress.set_message("interactions");
    activity::interactions(&mut tx, &owner, &users, &customers, &mut rng, now).await?;
    progress.set_message("deals");
    activity::deals(&mut tx, &owner, &users, &customers, &mut rng, now, &progress).await?;
    progress.finish_and_clear();
    support(&mut tx, &owner, now).await?;
    cases::history(&mut tx, &owner, &users, &customers, &mut rng, now).await?;
    let reports = crate::seed::saved_reports(&mut tx, &owner, Some(ids::REPORT)).await?;
    api_token(&mut tx, &owner, now).await?;
    tx.commit().await?;
    // The run reads what the transaction wrote: after it.
    first_run(pool, &owner, now).await?;
    println!(
        "demo workspace: {} customers, {} saved reports; log in as {EMAIL} / {PASSWORD}",
        customers.len(),
        reports
    );
    Ok(true)
}

pub(crate) fn parsed<T>(r: Result<T, crate::error::FieldError>) -> Result<T, AnyError> {
    r.map_err(|e| format!("{}: {}", e.field, e.message).into())
}

pub(crate) fn app_err(e: crate::error::ApiError) -> AnyError {
    let problem = e.problem();
    format!("{}: {}", problem.title, problem.detail).into()
}

/// The workspace, its owner, channels and sales pipeline with the showcase ids; in Berlin time.
async fn workspace(tx: &mut app::Tx<'_>, now: DateTime<Utc>) -> Result<Actor, AnyError> {
    let hash = crate::auth::password::hash(PASSWORD.to_owned()).await.map_err(app_err)?;
    let new = app::workspace::NewWorkspace {
        name: parsed(Name::parse("name", "Northwind Software (demo)"))?,
        currency: parsed(Currency::parse("currency", "EUR"))?,
        owner_email: parsed(Email::parse("email", EMAIL))?,
        owner_name: parsed(Name::parse("name", "Alex Morgan"))?,
        password_hash: hash,
    };
    let preset =
        [ids::WORKSPACE, ids::OWNER].into_iter().chain(ids::CHANNELS).chain([ids::PIPELINE]).chain(ids::STAGES);
    let (ws, user) =
        with_ids(preset, app::workspace::create(tx, new, app::workspace::MadeBy::System)).await.map_err(app_err)?;
    if (ws.id, user.id) != (ids::WORKSPACE, ids::OWNER) {
        return Err("the demo workspace did not get its showcase ids".into());
    }
    let owner = Actor::from_user(WorkspaceId(ws.id), Role::Owner, user.id);
    let changes = app::workspace::WorkspaceChanges {
        timezone: Some(parsed(Timezone::parse("timezone", "Europe/Berlin"))?),
        ..Default::default()
    };
    app::workspace::update(tx, &owner, None, changes, now).await.map_err(app_err)?;
    // Every default channel has its showcase id, in the order `CHANNELS` says.
    for (id, kind) in
        ids::CHANNELS.iter().zip(["email", "phone", "chat", "sms", "mms", "fax", "social", "web", "in_person"])
    {
        let channel = app::channels::get(&mut **tx, &owner, *id).await.map_err(app_err)?;
        if channel.kind.as_str() != kind {
            return Err(format!("the demo channel {id} is {}, not {kind}", channel.kind.as_str()).into());
        }
    }
    Ok(owner)
}

/// The sales team: an admin (showcase), two members and a viewer. Account owners are picked
/// among them and the owner.
async fn team(tx: &mut app::Tx<'_>, owner: &Actor) -> Result<Vec<Uuid>, AnyError> {
    let members = [
        ("Priya Nair", "priya.nair@northwind.example", Role::Admin),
        ("Jonas Berg", "jonas.berg@northwind.example", Role::Member),
        ("Camille Laurent", "camille.laurent@northwind.example", Role::Member),
        ("Kenji Watanabe", "kenji.watanabe@northwind.example", Role::Viewer),
    ];
    let mut users = vec![ids::OWNER];
    for (i, (name, email, role)) in members.into_iter().enumerate() {
        let new = app::users::NewUser {
            email: parsed(Email::parse("email", email))?,
            name: parsed(Name::parse("name", name))?,
            password: PASSWORD.to_owned(),
            role,
        };
        let preset: Vec<Uuid> = if i == 0 { vec![ids::USER] } else { vec![] };
        let user = with_ids(preset, app::users::create(tx, owner, new)).await.map_err(app_err)?;
        if role >= Role::Member {
            users.push(user.id);
        }
    }
    Ok(users)
}

/// Business hours in Berlin with a lunch break and the year-end holidays, the policy
/// "Standard support", and the showcase case.
async fn support(tx: &mut app::Tx<'_>, owner: &Actor, now: DateTime<Utc>) -> Result<(), AnyError> {
    use crate::domain::business_hours::{BusinessHours, Interval};
    use crate::domain::support::{CaseStatus, Priority, Target, Targets};
    let interval = |weekday, start: &str, end: &str| Interval { weekday, start: start.into(), end: end.into() };
    let year = now.date_naive().year();
    let hours = BusinessHours {
        intervals: (1..=5).flat_map(|d| [interval(d, "09:00", "12:30"), interval(d, "13:30", "18:00")]).collect(),
        holidays: [(12, 24), (12, 25), (12, 26), (12, 31)]
            .iter()
            .filter_map(|&(m, d)| chrono::NaiveDate::from_ymd_opt(year, m, d))
            .chain(chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1))
            .collect(),
    };
    app::support::set_business_hours(tx, owner, hours, None).await.map_err(app_err)?;
    let target =
        |first_response_minutes, resolution_minutes| Some(Target { first_response_minutes, resolution_minutes });
    let targets =
        Targets { low: target(480, 4800), normal: target(240, 2400), high: target(60, 960), urgent: target(30, 240) };
    let policy = app::support::PolicyFields::parse("Standard support", targets, true).map_err(app_err)?;
    with_ids([ids::SLA_POLICY], app::support::create_policy(tx, owner, policy)).await.map_err(app_err)?;
    let mut errors = Vec::new();
    let case = app::support::CaseFields {
        customer_id: ids::CUSTOMER,
        subject: "CSV export times out for 40k rows".into(),
        status: CaseStatus::New,
        priority: Priority::High,
        channel_id: ids::EMAIL_CHANNEL,
        assignee_id: Some(ids::USER),
        tags: crate::domain::Tags::parse("tags", &["export".to_owned()], &mut errors).ok_or("demo tags")?,
        sla_policy_id: Some(ids::SLA_POLICY),
        follow_up_of: None,
        satisfaction: None,
        satisfaction_comment: None,
    };
    let opened = now - TimeDelta::hours(3);
    with_ids([ids::CASE], app::support::create_case(tx, owner, case, opened)).await.map_err(app_err)?;
    Ok(())
}

/// The API token "Zapier sync".
async fn api_token(tx: &mut app::Tx<'_>, owner: &Actor, now: DateTime<Utc>) -> Result<(), AnyError> {
    let token = app::api_tokens::NewApiToken {
        name: parsed(Name::parse("name", "Zapier sync"))?,
        role: Role::Member,
        expires_at: Some(now + TimeDelta::days(365)),
    };
    with_ids([ids::API_TOKEN], app::api_tokens::create(tx, owner, token)).await.map_err(app_err)?;
    Ok(())
}

/// A run of the showcase report.
async fn first_run(pool: &PgPool, owner: &Actor, now: DateTime<Utc>) -> Result<(), AnyError> {
    let mut tx = pool.begin().await?;
    let timeout = std::time::Duration::from_secs(60);
    with_ids([ids::RUN], app::reports::run_now(pool, &mut tx, owner, ids::REPORT, now, timeout))
        .await
        .map_err(app_err)?;
    tx.commit().await?;
    Ok(())
}
