//! Eighteen months of support: cases coming in by email, phone and chat, answered by the team,
//! some waiting on the customer, a few reopened, most rated, closed four days after their
//! solution; the last days' still open. Made through the use cases on the case's own clock, so
//! due times, first responses and the analytics' facts are the real ones.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use super::people::Made;
use super::{app_err, ids, AnyError};
use crate::app::{self, Actor};
use crate::db::interactions::{Direction, Fields as InteractionFields, InteractionKind};
use crate::domain::support::{CaseStatus, Priority};
use crate::domain::Tags;

/// Cases over the 18 months.
pub(super) const CASES: usize = 540;

const SUBJECTS: &[(&str, &str)] = &[
    ("Cannot log in after password reset", "login"),
    ("Invoice shows the wrong VAT number", "billing"),
    ("Export to CSV is missing the phone column", "export"),
    ("Sync with the calendar stopped", "integration"),
    ("How do I add a second pipeline?", "how-to"),
    ("Duplicate contacts after import", "import"),
    ("Refund for the unused seats", "billing"),
    ("Dashboard loads slowly in the morning", "performance"),
    ("Webhook deliveries fail with 401", "integration"),
    ("Please remove a former employee's access", "account"),
];

/// Email, phone, chat: where cases come in.
const CHANNELS: [usize; 3] = [0, 1, 2];

pub(super) async fn history(
    tx: &mut app::Tx<'_>,
    owner: &Actor,
    users: &[Uuid],
    customers: &[Made],
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> Result<(), AnyError> {
    // Most cases come in during the (Berlin) working day: 06:00 to 17:00 UTC.
    let today = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let mut opened: Vec<DateTime<Utc>> = (0..CASES)
        .map(|_| today - Duration::days(rng.gen_range(0..548)) + Duration::minutes(rng.gen_range(6 * 60..17 * 60)))
        .filter(|t| *t < now - Duration::hours(1))
        .collect();
    opened.sort();
    let agents = &users[1..users.len().min(3)];
    for created in opened {
        let customer = &customers[rng.gen_range(0..customers.len())];
        if customer.created_at > created {
            continue;
        }
        let (subject, tag) = SUBJECTS[rng.gen_range(0..SUBJECTS.len())];
        let priority = match rng.gen_range(0..100) {
            0..=19 => Priority::Low,
            20..=69 => Priority::Normal,
            70..=91 => Priority::High,
            _ => Priority::Urgent,
        };
        let channel = ids::CHANNELS[CHANNELS[rng.gen_range(0..CHANNELS.len())]];
        let assignee = agents[rng.gen_range(0..agents.len())];
        let mut errors = Vec::new();
        let fields = app::support::CaseFields {
            customer_id: customer.id,
            subject: subject.into(),
            status: CaseStatus::New,
            priority,
            channel_id: channel,
            assignee_id: Some(assignee),
            tags: Tags::parse("tags", &[tag.to_owned()], &mut errors).ok_or("demo tags")?,
            sla_policy_id: Some(ids::SLA_POLICY),
            follow_up_of: None,
            satisfaction: None,
            satisfaction_comment: None,
        };
        let case = app::support::create_case(tx, owner, fields, created).await.map_err(app_err)?;
        // The first answer: minutes for urgent cases, hours (business ones, mostly) otherwise.
        let answer_after = match priority {
            Priority::Urgent => rng.gen_range(5..60),
            Priority::High => rng.gen_range(20..240),
            _ => rng.gen_range(30..1200),
        };
        let answered = created + Duration::minutes(answer_after);
        if answered >= now {
            continue;
        }
        let reply = InteractionFields {
            customer_id: customer.id,
            channel_id: channel,
            direction: Direction::Outbound,
            kind: InteractionKind::Message,
            subject: Some(format!("Re: {subject}")),
            body: None,
            occurred_at: answered,
            duration_seconds: None,
            value_cents: None,
            items: Vec::new(),
            user_id: Some(assignee),
            external_id: None,
            metadata: json!({}),
            case_id: Some(case.id),
        };
        let item = app::interactions::BatchItem { customer_id: customer.id, channel_id: channel, fields: Some(reply) };
        app::interactions::create_batch(tx, owner, vec![item], Vec::new()).await.map_err(app_err)?;
        let mut at = answered;
        let id = case.id;
        step(tx, owner, id, CaseStatus::Open, at).await?;
        if rng.gen_bool(0.3) {
            at += Duration::minutes(rng.gen_range(10..600));
            if at >= now {
                continue;
            }
            step(tx, owner, id, CaseStatus::Pending, at).await?;
            at += Duration::minutes(rng.gen_range(60..4000));
            if at >= now {
                continue;
            }
            step(tx, owner, id, CaseStatus::Open, at).await?;
        }
        let work = match priority {
            Priority::Urgent => rng.gen_range(30..600),
            Priority::High => rng.gen_range(120..2400),
            _ => rng.gen_range(240..7000),
        };
        at += Duration::minutes(work);
        if at >= now {
            continue;
        }
        step(tx, owner, id, CaseStatus::Solved, at).await?;
        if rng.gen_bool(0.08) {
            at += Duration::minutes(rng.gen_range(60..2000));
            if at >= now {
                continue;
            }
            step(tx, owner, id, CaseStatus::Open, at).await?;
            at += Duration::minutes(rng.gen_range(60..1500));
            if at >= now {
                continue;
            }
            step(tx, owner, id, CaseStatus::Solved, at).await?;
        }
        if rng.gen_bool(0.6) {
            let good = rng.gen_bool(0.86);
            app::support::update_case(tx, owner, id, None, at, |c| {
                let mut f = app::support::CaseFields::from(c);
                f.satisfaction = Some(if good { "good" } else { "bad" }.into());
                f.satisfaction_comment = (!good).then(|| "Took too long to get an answer".into());
                Ok(f)
            })
            .await
            .map_err(app_err)?;
        }
        let close = at + Duration::days(4);
        if close < now {
            step(tx, owner, id, CaseStatus::Closed, close).await?;
        }
    }
    Ok(())
}

/// Moves a case to `status` at `at`.
async fn step(
    tx: &mut app::Tx<'_>,
    owner: &Actor,
    id: Uuid,
    status: CaseStatus,
    at: DateTime<Utc>,
) -> Result<(), AnyError> {
    app::support::update_case(tx, owner, id, None, at, |c| {
        let mut f = app::support::CaseFields::from(c);
        f.status = status;
        Ok(f)
    })
    .await
    .map_err(app_err)?;
    Ok(())
}
