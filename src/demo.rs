//! The demo workspace (`rapport serve --demo`, `rapport seed --demo`): a small B2B software
//! vendor's CRM that looks alive — people and companies in a dozen countries, 18 months of
//! interactions with subjects on every channel, deals that spend days and weeks in each stage
//! of two pipelines, users, an API token and saved reports with a run. Everything is made
//! through the use cases (`app`), as a user would make it; the data is the same on every run
//! (a seeded generator), relative to the day it is made.
//!
//! Its showcase rows get fixed ids ([`ids`]): the OpenAPI document names them in its examples,
//! so Swagger UI's "Try it out" defaults work against the demo as they are.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::app::{self, Actor};
use crate::db::customers::{Customer, CustomerKind};
use crate::db::interactions::{Direction, Fields as InteractionFields, InteractionKind};
use crate::db::pipelines::Pipeline;
use crate::domain::{
    with_ids, AmountCents, Attributes, Country, Currency, Email, Name, Phone, Probability, Role, StageKind, Tags,
    Timezone, WorkspaceId,
};

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
}

/// Creates the demo workspace unless it exists; `Ok(false)` when it did. Prints a progress bar
/// on a terminal.
pub async fn create(pool: &PgPool) -> Result<bool, AnyError> {
    if crate::db::workspaces::get(pool, WorkspaceId(ids::WORKSPACE)).await?.is_some() {
        return Ok(false);
    }
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(20_261_130);
    let owner = workspace(pool, now).await?;
    let users = team(pool, &owner).await?;
    let mut people = crowd(&mut rng, now);
    let progress = indicatif::ProgressBar::new((people.len() + DEALS + RENEWAL_DEALS) as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    progress.set_message("customers");
    let customers = customers(pool, &owner, &users, &mut people, &progress).await?;
    progress.set_message("interactions");
    interactions(pool, &owner, &users, &customers, &mut rng, now).await?;
    progress.set_message("deals");
    deals(pool, &owner, &users, &customers, &mut rng, now, &progress).await?;
    progress.finish_and_clear();
    let reports = crate::seed::saved_reports(pool, &owner, Some(ids::REPORT)).await?;
    extras(pool, &owner, now).await?;
    println!(
        "demo workspace: {} customers, {} saved reports; log in as {EMAIL} / {PASSWORD}",
        customers.len(),
        reports
    );
    Ok(true)
}

fn parsed<T>(r: Result<T, crate::error::FieldError>) -> Result<T, AnyError> {
    r.map_err(|e| format!("{}: {}", e.field, e.message).into())
}

fn app_err(e: crate::error::ApiError) -> AnyError {
    e.to_string().into()
}

/// The workspace, its owner, channels and sales pipeline with the showcase ids; in Berlin time.
async fn workspace(pool: &PgPool, now: DateTime<Utc>) -> Result<Actor, AnyError> {
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
    let mut tx = pool.begin().await?;
    let (ws, user) = with_ids(preset, app::workspace::create(&mut tx, new, app::workspace::MadeBy::System))
        .await
        .map_err(app_err)?;
    if (ws.id, user.id) != (ids::WORKSPACE, ids::OWNER) {
        return Err("the demo workspace did not get its showcase ids".into());
    }
    let owner = Actor::from_user(WorkspaceId(ws.id), Role::Owner, user.id);
    let changes = app::workspace::WorkspaceChanges {
        timezone: Some(parsed(Timezone::parse("timezone", "Europe/Berlin"))?),
        ..Default::default()
    };
    app::workspace::update(&mut tx, &owner, None, changes, now).await.map_err(app_err)?;
    tx.commit().await?;
    Ok(owner)
}

/// The sales team: an admin (showcase), two members and a viewer. Account owners are picked
/// among them and the owner.
async fn team(pool: &PgPool, owner: &Actor) -> Result<Vec<Uuid>, AnyError> {
    let members = [
        ("Priya Nair", "priya.nair@northwind.example", Role::Admin),
        ("Jonas Berg", "jonas.berg@northwind.example", Role::Member),
        ("Camille Laurent", "camille.laurent@northwind.example", Role::Member),
        ("Kenji Watanabe", "kenji.watanabe@northwind.example", Role::Viewer),
    ];
    let mut tx = pool.begin().await?;
    let mut users = vec![ids::OWNER];
    for (i, (name, email, role)) in members.into_iter().enumerate() {
        let new = app::users::NewUser {
            email: parsed(Email::parse("email", email))?,
            name: parsed(Name::parse("name", name))?,
            password: PASSWORD.to_owned(),
            role,
        };
        let preset: Vec<Uuid> = if i == 0 { vec![ids::USER] } else { vec![] };
        let user = with_ids(preset, app::users::create(&mut tx, owner, new)).await.map_err(app_err)?;
        if role >= Role::Member {
            users.push(user.id);
        }
    }
    tx.commit().await?;
    Ok(users)
}

/// A country's people: first names, last names, cities, the phone prefix and a local number
/// shape, the email domain.
struct Nation {
    code: &'static str,
    first: &'static [&'static str],
    last: &'static [&'static str],
    cities: &'static [&'static str],
    phone: &'static str,
    mail: &'static str,
}

const COUNTRIES: &[Nation] = &[
    Nation {
        code: "DE",
        first: &["Lukas", "Anna", "Felix", "Marie", "Jonas", "Sophie", "Paul", "Lea"],
        last: &["Müller", "Schmidt", "Wagner", "Becker", "Hoffmann", "Schulz", "Koch", "Richter"],
        cities: &["Berlin", "Munich", "Hamburg", "Cologne", "Leipzig"],
        phone: "+49 30 ",
        mail: "de",
    },
    Nation {
        code: "FR",
        first: &["Camille", "Louis", "Chloé", "Hugo", "Manon", "Théo", "Inès", "Jules"],
        last: &["Martin", "Bernard", "Dubois", "Moreau", "Lefèvre", "Girard", "Roux", "Fournier"],
        cities: &["Paris", "Lyon", "Toulouse", "Nantes", "Bordeaux"],
        phone: "+33 1 ",
        mail: "fr",
    },
    Nation {
        code: "GB",
        first: &["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Emily"],
        last: &["Smith", "Jones", "Taylor", "Brown", "Williams", "Davies", "Evans", "Walker"],
        cities: &["London", "Manchester", "Bristol", "Edinburgh", "Leeds"],
        phone: "+44 20 ",
        mail: "co.uk",
    },
    Nation {
        code: "US",
        first: &["Emma", "Liam", "Olivia", "Ethan", "Mia", "Mason", "Harper", "Logan"],
        last: &["Johnson", "Miller", "Garcia", "Davis", "Wilson", "Anderson", "Thomas", "Moore"],
        cities: &["New York", "Austin", "Chicago", "San Francisco", "Denver", "Seattle"],
        phone: "+1 212 ",
        mail: "com",
    },
    Nation {
        code: "ES",
        first: &["Lucía", "Hugo", "Martina", "Pablo", "Sofía", "Álvaro", "Carmen", "Diego"],
        last: &["García", "Fernández", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres"],
        cities: &["Madrid", "Barcelona", "Valencia", "Seville"],
        phone: "+34 91 ",
        mail: "es",
    },
    Nation {
        code: "IT",
        first: &["Giulia", "Lorenzo", "Chiara", "Matteo", "Sara", "Luca", "Alessia", "Marco"],
        last: &["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
        cities: &["Milan", "Rome", "Turin", "Bologna"],
        phone: "+39 02 ",
        mail: "it",
    },
    Nation {
        code: "NL",
        first: &["Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Finn", "Sanne"],
        last: &["de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Smit", "Meijer"],
        cities: &["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"],
        phone: "+31 20 ",
        mail: "nl",
    },
    Nation {
        code: "SE",
        first: &["Elsa", "William", "Astrid", "Oscar", "Maja", "Hugo", "Alva", "Erik"],
        last: &["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Lindqvist", "Berg"],
        cities: &["Stockholm", "Gothenburg", "Malmö", "Uppsala"],
        phone: "+46 8 ",
        mail: "se",
    },
    Nation {
        code: "JP",
        first: &["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Sakura"],
        last: &["Sato", "Suzuki", "Takahashi", "Tanaka", "Ito", "Yamamoto", "Nakamura", "Kobayashi"],
        cities: &["Tokyo", "Osaka", "Yokohama", "Fukuoka"],
        phone: "+81 3 ",
        mail: "jp",
    },
    Nation {
        code: "BR",
        first: &["Ana", "Miguel", "Beatriz", "Gabriel", "Larissa", "Rafael", "Júlia", "Pedro"],
        last: &["Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Lima"],
        cities: &["São Paulo", "Rio de Janeiro", "Curitiba", "Belo Horizonte"],
        phone: "+55 11 ",
        mail: "com.br",
    },
    Nation {
        code: "IN",
        first: &["Aarav", "Diya", "Vivaan", "Ananya", "Arjun", "Ishita", "Rohan", "Kavya"],
        last: &["Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Menon", "Rao", "Singh"],
        cities: &["Bengaluru", "Mumbai", "Pune", "Hyderabad"],
        phone: "+91 80 ",
        mail: "in",
    },
    Nation {
        code: "AU",
        first: &["Charlotte", "Jack", "Matilda", "Cooper", "Ruby", "Lachlan", "Zoe", "Riley"],
        last: &["Wilson", "Kelly", "Murphy", "Ryan", "Nguyen", "Campbell", "Clarke", "Mitchell"],
        cities: &["Sydney", "Melbourne", "Brisbane", "Perth"],
        phone: "+61 2 ",
        mail: "com.au",
    },
];

const COMPANY_WORDS: &[&str] = &[
    "Helios",
    "Brightline",
    "Nordlicht",
    "Bluewater",
    "Cedar",
    "Quantix",
    "Orbital",
    "Meridian",
    "Silverpine",
    "Kestrel",
    "Lumen",
    "Atlas",
    "Ironbridge",
    "Solstice",
    "Harbor",
    "Vantage",
    "Pioneer",
    "Evergreen",
    "Cobalt",
    "Summit",
];
const COMPANY_KINDS: &[&str] =
    &["Solar", "Logistics", "Analytics", "Health", "Foods", "Robotics", "Capital", "Media", "Retail", "Energy"];
const TAGS: &[&str] = &["newsletter", "b2b", "trial", "churn-risk", "partner", "event-2026", "webinar"];
const SOURCES: &[&str] = &["webinar", "referral", "trade fair", "website", "outbound", "partner"];
const PLANS: &[&str] = &["starter", "pro", "enterprise"];

/// Products and their prices in cents: what purchases hold.
const CATALOG: &[(&str, i64)] = &[
    ("Starter plan (annual)", 49_000),
    ("Pro plan (annual)", 149_000),
    ("Enterprise plan (annual)", 490_000),
    ("Extra seats x10", 59_000),
    ("Onboarding workshop", 120_000),
    ("Priority support", 39_000),
    ("Data migration", 250_000),
    ("API add-on", 29_000),
    ("Training day", 95_000),
];

/// A customer to make.
struct Someone {
    id: Option<Uuid>,
    kind: CustomerKind,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    country: &'static str,
    city: &'static str,
    tags: Vec<String>,
    attributes: Value,
    created_at: DateTime<Utc>,
}

const PEOPLE: usize = 160;
const COMPANIES: usize = 36;

/// The people and companies, oldest first, the showcase pair included.
fn crowd(rng: &mut StdRng, now: DateTime<Utc>) -> Vec<Someone> {
    let start = now - Duration::days(548);
    let mut out = Vec::new();
    let mut emails = std::collections::HashSet::new();
    let mut companies: Vec<(String, &'static Nation)> = Vec::new();
    for i in 0..COMPANIES {
        let c = &COUNTRIES[i % COUNTRIES.len()];
        let name = format!(
            "{} {}{}",
            COMPANY_WORDS[i % COMPANY_WORDS.len()],
            COMPANY_KINDS[(i + 1 + i / COMPANY_WORDS.len() * 3) % COMPANY_KINDS.len()],
            legal_form(c.code)
        );
        companies.push((name.clone(), c));
        let slug: String = name.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).take(16).collect();
        out.push(Someone {
            id: None,
            kind: CustomerKind::Company,
            email: Some(unique(&mut emails, format!("hello@{slug}.example"), i)),
            phone: Some(format!("{}{}", c.phone, digits(rng, 7))),
            company: None,
            country: c.code,
            city: c.cities[rng.gen_range(0..c.cities.len())],
            tags: vec!["b2b".into()],
            attributes: json!({"industry": COMPANY_KINDS[(i + 1 + i / COMPANY_WORDS.len() * 3) % COMPANY_KINDS.len()].to_lowercase(),
                               "employees": rng.gen_range(12..4000), "plan": PLANS[rng.gen_range(0..3)]}),
            created_at: start + Duration::minutes(rng.gen_range(0..(540 * 24 * 60))),
            name,
        });
    }
    for i in 0..PEOPLE {
        let c = &COUNTRIES[rng.gen_range(0..COUNTRIES.len())];
        let (first, last) = (c.first[rng.gen_range(0..c.first.len())], c.last[rng.gen_range(0..c.last.len())]);
        let works_at = (i % 3 != 0).then(|| companies[rng.gen_range(0..companies.len())].0.clone());
        let local: String =
            format!("{first}.{last}").to_lowercase().chars().filter(|c| c.is_ascii_alphabetic() || *c == '.').collect();
        let domain = match &works_at {
            Some(company) => {
                format!("{}.example", company.to_lowercase().split(' ').next().unwrap_or("mail"))
            }
            None => format!("mail.example.{}", c.mail),
        };
        let mut tags: Vec<String> = Vec::new();
        for t in TAGS {
            if rng.gen_bool(0.18) {
                tags.push((*t).to_owned());
            }
        }
        if rng.gen_bool(0.08) {
            tags.push("vip".into());
        }
        out.push(Someone {
            id: None,
            kind: CustomerKind::Person,
            email: Some(unique(&mut emails, format!("{local}@{domain}"), i)),
            phone: rng.gen_bool(0.8).then(|| format!("{}{}", c.phone, digits(rng, 7))),
            company: works_at,
            country: c.code,
            city: c.cities[rng.gen_range(0..c.cities.len())],
            tags,
            attributes: json!({"source": SOURCES[rng.gen_range(0..SOURCES.len())],
                               "newsletter": rng.gen_bool(0.4),
                               "seats": rng.gen_range(1..60)}),
            created_at: start + Duration::minutes(rng.gen_range(0..(540 * 24 * 60))),
            name: format!("{first} {last}"),
        });
    }
    let helios = start + Duration::days(30);
    out.push(Someone {
        id: Some(ids::COMPANY),
        kind: CustomerKind::Company,
        name: "Helios Solar GmbH".into(),
        email: Some("info@helios-solar.example".into()),
        phone: Some("+49 30 901820".into()),
        company: None,
        country: "DE",
        city: "Berlin",
        tags: vec!["b2b".into(), "vip".into()],
        attributes: json!({"industry": "energy", "employees": 240, "plan": "pro"}),
        created_at: helios,
    });
    out.push(Someone {
        id: Some(ids::CUSTOMER),
        kind: CustomerKind::Person,
        name: "Lena Fischer".into(),
        email: Some("lena.fischer@helios-solar.example".into()),
        phone: Some("+49 30 901820-14".into()),
        company: Some("Helios Solar GmbH".into()),
        country: "DE",
        city: "Berlin",
        tags: vec!["vip".into(), "b2b".into(), "newsletter".into()],
        attributes: json!({"source": "trade fair", "newsletter": true, "seats": 40, "role": "Head of Operations"}),
        created_at: helios + Duration::hours(2),
    });
    out.sort_by_key(|s| s.created_at);
    out
}

/// `email`, or with `n` after its local part when it is taken.
fn unique(taken: &mut std::collections::HashSet<String>, email: String, n: usize) -> String {
    let email = if taken.contains(&email) { email.replacen('@', &format!("{n}@"), 1) } else { email };
    taken.insert(email.clone());
    email
}

fn legal_form(country: &str) -> &'static str {
    match country {
        "DE" => " GmbH",
        "FR" => " SAS",
        "GB" => " Ltd",
        "US" => " Inc.",
        "ES" | "BR" => " S.A.",
        "IT" => " S.p.A.",
        "NL" => " B.V.",
        "SE" => " AB",
        "JP" => " K.K.",
        "IN" => " Pvt Ltd",
        _ => " Pty Ltd",
    }
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

/// A made customer: its id, kind, country and when it was made.
struct Made {
    id: Uuid,
    kind: CustomerKind,
    company: Option<String>,
    created_at: DateTime<Utc>,
}

async fn customers(
    pool: &PgPool,
    owner: &Actor,
    users: &[Uuid],
    people: &mut [Someone],
    progress: &indicatif::ProgressBar,
) -> Result<Vec<Made>, AnyError> {
    let mut made = Vec::with_capacity(people.len());
    let mut tx = pool.begin().await?;
    for (i, p) in people.iter_mut().enumerate() {
        let mut errors = Vec::new();
        let tags = Tags::parse("tags", &p.tags, &mut errors).ok_or("demo tags")?;
        let fields = app::customers::CustomerFields {
            kind: p.kind,
            name: parsed(Name::parse("name", &p.name))?,
            email: p.email.as_deref().map(|e| Email::parse("email", e)).transpose().map_err(|e| e.message)?,
            phone: p.phone.as_deref().map(|e| Phone::parse("phone", e)).transpose().map_err(|e| e.message)?,
            company_name: p
                .company
                .as_deref()
                .map(|e| Name::parse("company_name", e))
                .transpose()
                .map_err(|e| e.message)?,
            country: Some(parsed(Country::parse("country", p.country))?),
            city: Some(parsed(Name::parse("city", p.city))?),
            tags,
            attributes: parsed(Attributes::parse("attributes", &p.attributes))?,
            owner_id: Some(users[i % users.len()]),
        };
        let new = app::customers::NewCustomer { fields, created_at: Some(p.created_at) };
        let customer: Customer = with_ids(p.id, app::customers::create(&mut tx, owner, new)).await.map_err(app_err)?;
        made.push(Made { id: customer.id, kind: p.kind, company: p.company.take(), created_at: p.created_at });
        progress.inc(1);
    }
    tx.commit().await?;
    Ok(made)
}

/// What a contact on a channel is about: (channel index, kind, direction, subjects).
const CONTACTS: &[(usize, InteractionKind, Direction, &[&str])] = &[
    (
        0,
        InteractionKind::Message,
        Direction::Inbound,
        &[
            "Question about seat pricing",
            "Re: Your quote",
            "Invoice address change",
            "Can we move our call?",
            "Feedback on the new dashboard",
            "Request for a security questionnaire",
        ],
    ),
    (
        0,
        InteractionKind::Message,
        Direction::Outbound,
        &[
            "Quote for the Pro plan",
            "Follow-up: our demo yesterday",
            "Your onboarding plan",
            "Renewal reminder",
            "Release notes: reports and schedules",
            "Welcome to Northwind",
        ],
    ),
    (
        1,
        InteractionKind::Call,
        Direction::Outbound,
        &["Discovery call", "Pricing call", "Check-in call", "Renewal call"],
    ),
    (1, InteractionKind::Call, Direction::Inbound, &["Callback request", "Billing question by phone"]),
    (
        2,
        InteractionKind::Support,
        Direction::Inbound,
        &["Cannot export to CSV", "SSO login fails", "How do I add seats?"],
    ),
    (3, InteractionKind::Message, Direction::Outbound, &["Reminder: webinar tomorrow", "Your verification code"]),
    (4, InteractionKind::Message, Direction::Inbound, &["Photo of the damaged device", "Screenshot of the error"]),
    (5, InteractionKind::Message, Direction::Inbound, &["Signed order form", "Signed data processing agreement"]),
    (6, InteractionKind::Message, Direction::Inbound, &["Mentioned us on LinkedIn", "Asked about the API on X"]),
    (
        7,
        InteractionKind::Note,
        Direction::Inbound,
        &["Downloaded the ROI whitepaper", "Requested a demo on the website"],
    ),
    (
        8,
        InteractionKind::Meeting,
        Direction::Outbound,
        &["On-site workshop", "Quarterly business review", "Lunch at the trade fair"],
    ),
];

/// Interactions over the customers' lives (every few weeks, on every channel), purchases
/// among them, logged in batches.
async fn interactions(
    pool: &PgPool,
    owner: &Actor,
    users: &[Uuid],
    customers: &[Made],
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> Result<(), AnyError> {
    let mut items: Vec<app::interactions::BatchItem> = Vec::new();
    let mut showcase: Option<app::interactions::BatchItem> = None;
    for (n, c) in customers.iter().enumerate() {
        let mut at = c.created_at + Duration::minutes(rng.gen_range(5..600));
        let mut first = true;
        while at < now {
            let (channel, kind, direction, subjects) = if first {
                CONTACTS[if c.kind == CustomerKind::Company { 0 } else { 9 }]
            } else {
                CONTACTS[rng.gen_range(0..CONTACTS.len())]
            };
            let purchase = !first && rng.gen_bool(0.16);
            let (channel, kind, direction, subject) = if purchase {
                (7, InteractionKind::Purchase, Direction::Inbound, "Order from the web shop".to_owned())
            } else {
                (channel, kind, direction, subjects[rng.gen_range(0..subjects.len())].to_owned())
            };
            let basket: Vec<(&str, i64)> = if purchase {
                let mut b = vec![CATALOG[rng.gen_range(0..3)]];
                for extra in &CATALOG[3..] {
                    if rng.gen_bool(0.3) {
                        b.push(*extra);
                    }
                }
                b
            } else {
                Vec::new()
            };
            let fields = InteractionFields {
                customer_id: c.id,
                channel_id: ids::CHANNELS[channel],
                direction,
                kind,
                subject: Some(subject),
                body: None,
                occurred_at: at,
                duration_seconds: (kind == InteractionKind::Call || kind == InteractionKind::Meeting)
                    .then(|| rng.gen_range(240..5400)),
                value_cents: purchase.then(|| basket.iter().map(|(_, p)| p).sum()),
                items: basket.iter().map(|(i, _)| (*i).to_owned()).collect(),
                user_id: (direction == Direction::Outbound).then(|| users[n % users.len()]),
                external_id: None,
                metadata: if channel == 0 {
                    json!({"thread": format!("T-{}", 10_000 + items.len())})
                } else {
                    json!({})
                },
            };
            let item =
                app::interactions::BatchItem { customer_id: c.id, channel_id: fields.channel_id, fields: Some(fields) };
            if c.id == ids::CUSTOMER && first {
                showcase = Some(item);
            } else {
                items.push(item);
            }
            first = false;
            at += Duration::minutes(rng.gen_range(3 * 24 * 60..55 * 24 * 60));
        }
    }
    let mut tx = pool.begin().await?;
    if let Some(mut item) = showcase {
        if let Some(f) = item.fields.as_mut() {
            (f.channel_id, f.kind, f.direction) = (ids::EMAIL_CHANNEL, InteractionKind::Message, Direction::Inbound);
            f.subject = Some("Re: Proposal for 40 Pro seats".into());
            f.body = Some("Hi Priya, thanks for the proposal. Could you include the onboarding workshop?".into());
            item.channel_id = ids::EMAIL_CHANNEL;
        }
        with_ids([ids::INTERACTION], app::interactions::create_batch(&mut tx, owner, vec![item], Vec::new()))
            .await
            .map_err(app_err)?;
    }
    items.sort_by_key(|i| i.fields.as_ref().map(|f| f.occurred_at));
    let mut rest = items.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<_> = rest.by_ref().take(app::interactions::MAX_BATCH).collect();
        app::interactions::create_batch(&mut tx, owner, chunk, Vec::new()).await.map_err(app_err)?;
    }
    tx.commit().await?;
    Ok(())
}

const DEALS: usize = 110;
const RENEWAL_DEALS: usize = 30;

/// Deals in both pipelines, each moved stage by stage after days or weeks, won, lost or still
/// open; the showcase deal is in negotiation.
async fn deals(
    pool: &PgPool,
    owner: &Actor,
    users: &[Uuid],
    customers: &[Made],
    rng: &mut StdRng,
    now: DateTime<Utc>,
    progress: &indicatif::ProgressBar,
) -> Result<(), AnyError> {
    let mut tx = pool.begin().await?;
    let sales: Pipeline = app::pipelines::get(pool, owner, ids::PIPELINE).await.map_err(app_err)?;
    let stages = |kind: StageKind, probability: i32, name: &str| -> Result<app::pipelines::StageFields, AnyError> {
        Ok(app::pipelines::StageFields {
            name: parsed(Name::parse("name", name))?,
            kind,
            probability: parsed(Probability::parse("probability", probability))?,
        })
    };
    let renewals = app::pipelines::NewPipeline {
        name: parsed(Name::parse("name", "Renewals"))?,
        stages: Some(vec![
            stages(StageKind::Open, 60, "Upcoming")?,
            stages(StageKind::Open, 80, "In talks")?,
            stages(StageKind::Won, 100, "Renewed")?,
            stages(StageKind::Lost, 0, "Churned")?,
        ]),
    };
    let renewals =
        with_ids([ids::RENEWALS], app::pipelines::create(&mut tx, owner, renewals)).await.map_err(app_err)?;
    let buyers: Vec<&Made> =
        customers.iter().filter(|c| c.kind == CustomerKind::Company || c.company.is_some()).collect();
    for i in 0..DEALS {
        let c = buyers[rng.gen_range(0..buyers.len())];
        let (seats, plan) = (5 * rng.gen_range(1..20), PLANS[rng.gen_range(0..3)]);
        let title = format!("{seats} {plan} seats");
        let opened = c.created_at + Duration::days(rng.gen_range(2..120));
        let path = journey(rng, &sales, opened, now);
        deal(&mut tx, owner, users[i % users.len()], c.id, &sales, &title, seats as i64 * 149_000, &path, None).await?;
        progress.inc(1);
    }
    for i in 0..RENEWAL_DEALS {
        let c = buyers[rng.gen_range(0..buyers.len())];
        let opened = now - Duration::days(rng.gen_range(10..400));
        let path = journey(rng, &renewals, opened, now);
        let title = format!("Annual renewal {}", opened.year() + 1);
        deal(
            &mut tx,
            owner,
            users[i % users.len()],
            c.id,
            &renewals,
            &title,
            rng.gen_range(20..400) * 10_000,
            &path,
            None,
        )
        .await?;
        progress.inc(1);
    }
    let opened = now - Duration::days(47);
    let path: Vec<(Uuid, DateTime<Utc>)> = ids::STAGES[..4]
        .iter()
        .zip([0, 6, 19, 33])
        .map(|(s, d)| (*s, opened + Duration::days(d) + Duration::hours(3)))
        .collect();
    let close = (now + Duration::days(21)).date_naive();
    deal(
        &mut tx,
        owner,
        ids::USER,
        ids::CUSTOMER,
        &sales,
        "Helios Solar — 40 Pro seats",
        5_960_000,
        &path,
        Some(close),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The stages a deal opened at `opened` goes through, with when: days to weeks in each open
/// stage, then won or lost (more often lost early), unless `now` comes first.
fn journey(
    rng: &mut StdRng,
    pipeline: &Pipeline,
    opened: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<(Uuid, DateTime<Utc>)> {
    let open: Vec<_> = pipeline.stages.iter().filter(|s| s.kind == StageKind::Open).collect();
    let won = pipeline.stages.iter().find(|s| s.kind == StageKind::Won);
    let lost = pipeline.stages.iter().find(|s| s.kind == StageKind::Lost);
    let mut at = opened.min(now - Duration::hours(1));
    let mut path = vec![(open[0].id, at)];
    for (step, stage) in open.iter().enumerate().skip(1).map(|(i, s)| (i, Some(*s))).chain([(open.len(), None)]) {
        at += Duration::hours(rng.gen_range(2 * 24..(6 + 5 * step as i64) * 24));
        if at >= now {
            break;
        }
        let dropped = rng.gen_bool(0.12 + 0.05 * step as f64);
        let next = match (dropped, stage) {
            (true, _) => lost,
            (false, Some(s)) => Some(s),
            (false, None) => won,
        };
        let Some(next) = next else { break };
        path.push((next.id, at));
        if next.kind != StageKind::Open {
            break;
        }
    }
    path
}

#[allow(clippy::too_many_arguments)]
async fn deal(
    tx: &mut app::Tx<'_>,
    owner: &Actor,
    user: Uuid,
    customer: Uuid,
    pipeline: &Pipeline,
    title: &str,
    amount_cents: i64,
    path: &[(Uuid, DateTime<Utc>)],
    expected_close_date: Option<NaiveDate>,
) -> Result<(), AnyError> {
    let Some(((first, opened), moves)) = path.split_first() else { return Ok(()) };
    let new = app::deals::NewDeal {
        pipeline_id: pipeline.id,
        stage_id: Some(*first),
        customer_id: customer,
        title: parsed(Name::parse("title", title))?,
        amount_cents: parsed(AmountCents::parse("amount_cents", amount_cents))?,
        owner_id: Some(user),
        expected_close_date,
        created_at: *opened,
    };
    let preset: Option<Uuid> = (customer == ids::CUSTOMER).then_some(ids::DEAL);
    let deal = with_ids(preset, app::deals::create(tx, owner, new)).await.map_err(app_err)?;
    for (stage, at) in moves {
        app::deals::update(tx, owner, deal.id, None, |d| {
            Ok(app::deals::DealChanges {
                stage_id: *stage,
                changed_at: Some(*at),
                customer_id: d.customer_id,
                title: Name::parse("title", &d.title).map_err(|e| crate::error::ApiError::Validation(vec![e]))?,
                amount_cents: AmountCents::parse("amount_cents", d.amount_cents)
                    .map_err(|e| crate::error::ApiError::Validation(vec![e]))?,
                owner_id: d.owner_id,
                expected_close_date: d.expected_close_date,
            })
        })
        .await
        .map_err(app_err)?;
    }
    Ok(())
}

/// The API token "Zapier sync" and a run of the showcase report.
async fn extras(pool: &PgPool, owner: &Actor, now: DateTime<Utc>) -> Result<(), AnyError> {
    let mut tx = pool.begin().await?;
    let token = app::api_tokens::NewApiToken {
        name: parsed(Name::parse("name", "Zapier sync"))?,
        role: Role::Member,
        expires_at: Some(now + TimeDelta::days(365)),
    };
    with_ids([ids::API_TOKEN], app::api_tokens::create(&mut tx, owner, token)).await.map_err(app_err)?;
    let timeout = std::time::Duration::from_secs(60);
    with_ids([ids::RUN], app::reports::run_now(pool, &mut tx, owner, ids::REPORT, now, timeout))
        .await
        .map_err(app_err)?;
    tx.commit().await?;
    Ok(())
}
