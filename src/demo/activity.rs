//! The demo's activity: interactions on every channel over the customers' lives, purchases
//! among them, and deals moving through two pipelines over days and weeks.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use super::people::{Made, PLANS};
use super::{app_err, ids, parsed, AnyError};
use crate::app::{self, Actor};
use crate::db::customers::CustomerKind;
use crate::db::interactions::{Direction, Fields as InteractionFields, InteractionKind};
use crate::db::pipelines::Pipeline;
use crate::domain::{with_ids, AmountCents, Name, Probability, StageKind};

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
pub(super) async fn interactions(
    tx: &mut app::Tx<'_>,
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
                case_id: None,
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
    if let Some(mut item) = showcase {
        if let Some(f) = item.fields.as_mut() {
            (f.channel_id, f.kind, f.direction) = (ids::EMAIL_CHANNEL, InteractionKind::Message, Direction::Inbound);
            f.subject = Some("Re: Proposal for 40 Pro seats".into());
            f.body = Some("Hi Priya, thanks for the proposal. Could you include the onboarding workshop?".into());
            item.channel_id = ids::EMAIL_CHANNEL;
        }
        with_ids([ids::INTERACTION], app::interactions::create_batch(tx, owner, vec![item], Vec::new()))
            .await
            .map_err(app_err)?;
    }
    items.sort_by_key(|i| i.fields.as_ref().map(|f| f.occurred_at));
    let mut rest = items.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<_> = rest.by_ref().take(app::interactions::MAX_BATCH).collect();
        app::interactions::create_batch(tx, owner, chunk, Vec::new()).await.map_err(app_err)?;
    }
    Ok(())
}

pub(super) const DEALS: usize = 110;
pub(super) const RENEWAL_DEALS: usize = 30;

/// Deals in both pipelines, each moved stage by stage after days or weeks, won, lost or still
/// open; the showcase deal is in negotiation.
pub(super) async fn deals(
    tx: &mut app::Tx<'_>,
    owner: &Actor,
    users: &[Uuid],
    customers: &[Made],
    rng: &mut StdRng,
    now: DateTime<Utc>,
    progress: &indicatif::ProgressBar,
) -> Result<(), AnyError> {
    let sales: Pipeline = app::pipelines::load(tx, owner, ids::PIPELINE).await.map_err(app_err)?;
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
    let renewals = with_ids([ids::RENEWALS], app::pipelines::create(tx, owner, renewals)).await.map_err(app_err)?;
    let buyers: Vec<&Made> =
        customers.iter().filter(|c| c.kind == CustomerKind::Company || c.company.is_some()).collect();
    for i in 0..DEALS {
        let c = buyers[rng.gen_range(0..buyers.len())];
        let (seats, plan) = (5 * rng.gen_range(1..20), PLANS[rng.gen_range(0..3)]);
        let title = format!("{seats} {plan} seats");
        let opened = c.created_at + Duration::days(rng.gen_range(2..120));
        let path = journey(rng, &sales, opened, now);
        deal(tx, owner, users[i % users.len()], c.id, &sales, &title, seats as i64 * 149_000, &path, None).await?;
        progress.inc(1);
    }
    for i in 0..RENEWAL_DEALS {
        let c = buyers[rng.gen_range(0..buyers.len())];
        let opened = now - Duration::days(rng.gen_range(10..400));
        let path = journey(rng, &renewals, opened, now);
        let title = format!("Annual renewal {}", opened.year() + 1);
        deal(tx, owner, users[i % users.len()], c.id, &renewals, &title, rng.gen_range(20..400) * 10_000, &path, None)
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
    deal(tx, owner, ids::USER, ids::CUSTOMER, &sales, "Helios Solar — 40 Pro seats", 5_960_000, &path, Some(close))
        .await?;
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
    showcase_closing: Option<NaiveDate>,
) -> Result<(), AnyError> {
    // The showcase deal (the one closing on a date) gets its id; no other.
    let expected_close_date = showcase_closing;
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
    let preset: Option<Uuid> = showcase_closing.map(|_| ids::DEAL);
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
