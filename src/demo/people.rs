//! The demo's people and companies: names, cities and phone numbers of twelve countries, custom
//! fields and tags, created over 18 months.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{app_err, ids, parsed, AnyError};
use crate::app::{self, Actor};
use crate::db::customers::{Customer, CustomerKind};
use crate::domain::{with_ids, Attributes, Country, Email, Name, Phone, Tags};

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
pub(super) const PLANS: &[&str] = &["starter", "pro", "enterprise"];

/// A customer to make.
pub(super) struct Someone {
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
pub(super) fn crowd(rng: &mut StdRng, now: DateTime<Utc>) -> Vec<Someone> {
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
            phone: phone_number(rng, c.phone),
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
            phone: if rng.gen_bool(0.8) { phone_number(rng, c.phone) } else { None },
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
        phone: Some("+49 30 901820 x14".into()),
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

/// A valid number of the country whose international prefix (with area code) is `prefix`:
/// random subscriber digits until the numbering plan takes them.
fn phone_number(rng: &mut StdRng, prefix: &str) -> Option<String> {
    (0..200)
        .map(|i| format!("{prefix}{}", digits(rng, 6 + i % 4)))
        .find(|n| crate::domain::phone("phone", n, None).is_ok())
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

/// A made customer: its id, kind, company and when it was made.
pub(super) struct Made {
    pub id: Uuid,
    pub kind: CustomerKind,
    pub company: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub(super) async fn customers(
    tx: &mut app::Tx<'_>,
    owner: &Actor,
    users: &[Uuid],
    people: &mut [Someone],
    progress: &indicatif::ProgressBar,
) -> Result<Vec<Made>, AnyError> {
    let mut made = Vec::with_capacity(people.len());
    for (i, p) in people.iter_mut().enumerate() {
        let mut errors = Vec::new();
        let tags = Tags::parse("tags", &p.tags, &mut errors).ok_or("demo tags")?;
        let fields = app::customers::CustomerFields {
            kind: p.kind,
            name: parsed(Name::parse("name", &p.name))?,
            email: p.email.as_deref().map(|e| Email::parse("email", e)).transpose().map_err(|e| e.message)?,
            phone: p.phone.as_deref().map(|e| Phone::parse("phone", e, None)).transpose().map_err(|e| e.message)?,
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
            owner_id: Some(if p.id == Some(ids::CUSTOMER) { ids::USER } else { users[i % users.len()] }),
        };
        let new = app::customers::NewCustomer { fields, created_at: Some(p.created_at) };
        let customer: Customer = with_ids(p.id, app::customers::create(tx, owner, new)).await.map_err(app_err)?;
        made.push(Made { id: customer.id, kind: p.kind, company: p.company.take(), created_at: p.created_at });
        progress.inc(1);
    }
    Ok(made)
}
