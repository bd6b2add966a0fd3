//! Support cases against a model in plain Rust: a random history of cases (opened, moved through
//! their statuses, paused, reopened, reprioritized, answered by interactions, rated) on a clock
//! the test sets, in three time zones with daylight-saving changes inside the history, on random
//! business hours with split days, a night interval over the change and holidays. Every case's
//! due times, facts and breaches, and `GET /analytics/support` over two windows and every
//! grouping, equal what the model computes minute by minute from the local wall clock (chrono-tz),
//! sharing no code with the server.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::helpers::*;

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
const TAGS: [&str; 3] = ["billing", "bug", "vip"];

struct Hours {
    tz: Tz,
    /// (ISO weekday, start minute, end minute) in local time.
    intervals: Vec<(u32, u32, u32)>,
    holidays: HashSet<NaiveDate>,
}

impl Hours {
    fn open(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.tz);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let (day, minute) = (local.weekday().number_from_monday(), local.hour() * 60 + local.minute());
        self.intervals.iter().any(|&(d, s, e)| d == day && s <= minute && minute < e)
    }
}

struct Policy {
    id: String,
    business: bool,
    targets: HashMap<&'static str, (i64, i64)>,
}

struct Case {
    id: String,
    customer: usize,
    channel: usize,
    assignee: Option<usize>,
    tags: Vec<&'static str>,
    priority: &'static str,
    policy: Option<usize>,
    created: DateTime<Utc>,
    statuses: Vec<(&'static str, DateTime<Utc>)>,
    responses: Vec<DateTime<Utc>>,
    satisfaction: Option<&'static str>,
}

fn unsolved(status: &str) -> bool {
    !matches!(status, "solved" | "closed")
}

fn paused(status: &str) -> bool {
    matches!(status, "pending" | "on_hold")
}

impl Case {
    fn status(&self) -> &'static str {
        self.statuses.last().unwrap().0
    }
    /// The status in force during the minute starting at `t`.
    fn status_at(&self, t: DateTime<Utc>) -> &'static str {
        self.statuses.iter().rev().find(|(_, at)| *at <= t).map_or("new", |s| s.0)
    }
    /// The status just before `t` (after every change strictly before it).
    fn status_before(&self, t: DateTime<Utc>) -> Option<&'static str> {
        self.statuses.iter().rev().find(|(_, at)| *at < t).map(|s| s.0)
    }
    fn solved_at(&self) -> Option<DateTime<Utc>> {
        if unsolved(self.status()) {
            return None;
        }
        self.statuses.iter().rev().find(|(s, _)| *s == "solved").map(|s| s.1)
    }
    fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.statuses.iter().find(|(s, _)| *s == "closed").map(|s| s.1)
    }
    fn reopenings(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
        self.statuses
            .windows(2)
            .filter(|w| w[0].0 == "solved" && w[1].0 == "open" && from <= w[1].1 && w[1].1 < to)
            .count()
    }
    fn first_responded_at(&self) -> Option<DateTime<Utc>> {
        self.responses.iter().min().map(|t| (*t).max(self.created))
    }
    /// The earlier of the first response and the first solution (a reopening leaves it).
    fn answered_at(&self) -> Option<DateTime<Utc>> {
        let first_solution = self.statuses.iter().find(|(s, _)| *s == "solved").map(|s| s.1);
        [self.first_responded_at(), first_solution].into_iter().flatten().min()
    }
}

/// Counts minutes from `start` for which `counts` holds until `n` are counted: the end of the
/// n-th (`None` if that is not before `until`).
fn walk(
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    n: i64,
    counts: impl Fn(DateTime<Utc>) -> bool,
) -> Option<DateTime<Utc>> {
    let mut m = start;
    let mut c = 0;
    while m < until {
        if counts(m) {
            c += 1;
            if c == n {
                return Some(m + Duration::minutes(1));
            }
        }
        m += Duration::minutes(1);
    }
    None
}

/// Minutes in `[from, to)` for which `counts` holds.
fn minutes(from: DateTime<Utc>, to: DateTime<Utc>, counts: impl Fn(DateTime<Utc>) -> bool) -> i64 {
    let mut m = from;
    let mut c = 0;
    while m < to {
        c += i64::from(counts(m));
        m += Duration::minutes(1);
    }
    c
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().map(|s| s.parse().unwrap())
}

fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// `percentile_cont(p)` of `values`.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v = values.to_vec();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pos = p * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b != 0).then(|| a as f64 / b as f64)
}

/// A group's key and label.
type GroupKey = (Option<String>, Option<String>);

struct World {
    hours: Hours,
    policies: Vec<Policy>,
    cases: Vec<Case>,
    deleted_customer: usize,
}

impl World {
    fn clock(&self, case: &Case) -> impl Fn(DateTime<Utc>) -> bool + '_ {
        let business = case.policy.is_some_and(|p| self.policies[p].business);
        move |t| !business || self.hours.open(t)
    }

    fn target(&self, case: &Case) -> Option<(i64, i64)> {
        self.policies[case.policy?].targets.get(case.priority).copied()
    }

    fn dues(&self, case: &Case) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let Some((first, resolution)) = self.target(case) else { return (None, None) };
        let clock = self.clock(case);
        let year = case.created + Duration::days(366);
        let first_due = walk(case.created, year, first, &clock);
        // Paused now: due only if the target was reached before the pause began.
        let until = if paused(case.status()) { case.statuses.last().unwrap().1 } else { year };
        let resolution_due = walk(case.created, until, resolution, |t| clock(t) && !paused(case.status_at(t)));
        (first_due, resolution_due)
    }

    /// The figures of `cases` in `[from, to)`, as `SupportFigures`.
    fn figures(&self, cases: &[&Case], from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
        let within = |t: Option<DateTime<Utc>>| t.is_some_and(|t| from <= t && t < to);
        let business = |a: DateTime<Utc>, b: DateTime<Utc>| minutes(a, b, |t| self.hours.open(t)) as f64;
        let (mut created, mut solved, mut reopened, mut backlog) = (0, 0, 0, 0);
        let (mut fr_business, mut fr_calendar, mut res_business, mut res_calendar) = (vec![], vec![], vec![], vec![]);
        let (mut fr_targets, mut fr_met, mut res_targets, mut res_met, mut good, mut bad) = (0, 0, 0, 0, 0, 0);
        for c in cases {
            let (fr_due, res_due) = self.dues(c);
            created += i64::from(from <= c.created && c.created < to);
            reopened += c.reopenings(from, to) as i64;
            backlog += i64::from(c.created < to && c.status_before(to).is_some_and(unsolved));
            if let Some(at) = c.first_responded_at().filter(|t| within(Some(*t))) {
                fr_business.push(business(c.created, at));
                fr_calendar.push((at - c.created).num_seconds() as f64 / 60.0);
            }
            let answered = c.answered_at();
            if within(answered) {
                if let Some(due) = fr_due {
                    fr_targets += 1;
                    fr_met += i64::from(answered.unwrap() <= due);
                }
            }
            if let Some(at) = c.solved_at().filter(|t| within(Some(*t))) {
                solved += 1;
                res_business.push(business(c.created, at));
                res_calendar.push((at - c.created).num_seconds() as f64 / 60.0);
                if let Some(due) = res_due {
                    res_targets += 1;
                    res_met += i64::from(at <= due);
                }
                good += i64::from(c.satisfaction == Some("good"));
                bad += i64::from(c.satisfaction == Some("bad"));
            }
        }
        json!({
            "created": created, "solved": solved, "reopened": reopened, "backlog": backlog,
            "first_responses": fr_business.len(),
            "first_response_median_business_minutes": percentile(&fr_business, 0.5),
            "first_response_p90_business_minutes": percentile(&fr_business, 0.9),
            "first_response_median_minutes": percentile(&fr_calendar, 0.5),
            "first_response_p90_minutes": percentile(&fr_calendar, 0.9),
            "resolution_median_business_minutes": percentile(&res_business, 0.5),
            "resolution_p90_business_minutes": percentile(&res_business, 0.9),
            "resolution_median_minutes": percentile(&res_calendar, 0.5),
            "resolution_p90_minutes": percentile(&res_calendar, 0.9),
            "first_response_targets": fr_targets, "first_response_met": fr_met,
            "first_response_attainment": ratio(fr_met, fr_targets),
            "resolution_targets": res_targets, "resolution_met": res_met,
            "resolution_attainment": ratio(res_met, res_targets),
            "satisfaction_good": good, "satisfaction_bad": bad, "satisfaction_score": ratio(good, good + bad),
        })
    }

    /// Whether a case belongs to the window: opened, solved, answered or reopened in it, or in
    /// the backlog at its end.
    fn in_window(&self, c: &Case, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let within = |t: Option<DateTime<Utc>>| t.is_some_and(|t| from <= t && t < to);
        within(Some(c.created))
            || within(c.solved_at())
            || within(c.answered_at())
            || c.reopenings(from, to) > 0
            || (c.created < to && c.status_before(to).is_some_and(unsolved))
    }
}

/// Numbers equal to 1e-9 (relative), everything else exactly.
fn assert_same(actual: &Value, expected: &Value, what: &str) {
    for (key, want) in expected.as_object().unwrap() {
        let got = &actual[key];
        match (got.as_f64(), want.as_f64()) {
            (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{what} {key}: {got} != {want}"),
            _ => assert_eq!(got, want, "{what} {key}"),
        }
    }
}

async fn ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn run(tz_name: &str, start: &str, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let tz: Tz = tz_name.parse().unwrap();
    ok(app.patch("/api/v1/workspace", &owner, json!({"timezone": tz_name})).await).await;
    let start: DateTime<Utc> = start.parse().unwrap();

    // Business hours: split weekdays (or a short one), Saturday mornings now and then, a night
    // interval on Sundays (the clocks change then), two holidays in the history.
    let mut intervals = Vec::new();
    for day in 1..=5 {
        if rng.gen_bool(0.75) {
            intervals.push((day, [480, 540][rng.gen_range(0..2)], [720, 750][rng.gen_range(0..2)]));
            intervals.push((day, 810, [1020, 1080][rng.gen_range(0..2)]));
        } else {
            intervals.push((day, 600, 960));
        }
    }
    if rng.gen_bool(0.5) {
        intervals.push((6, 540, 780));
    }
    intervals.push((7, 0, 360));
    let local_start = start.with_timezone(&tz).date_naive();
    let holidays: HashSet<NaiveDate> = (0..2).map(|_| local_start + Duration::days(rng.gen_range(1..20))).collect();
    let hours = Hours { tz, intervals, holidays };
    let body = json!({
        "intervals": hours.intervals.iter().map(|&(d, s, e)| json!({"weekday": d, "start": hhmm(s), "end": hhmm(e)})).collect::<Vec<_>>(),
        "holidays": hours.holidays.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
    });
    ok(app.request(reqwest::Method::PUT, "/api/v1/workspace/business-hours", Some(&owner), Some(body)).await).await;

    let mut policies = Vec::new();
    for (name, business, priorities) in
        [("Business", true, &PRIORITIES[..]), ("Around the clock", false, &PRIORITIES[2..])]
    {
        let targets: HashMap<&'static str, (i64, i64)> =
            priorities.iter().map(|p| (*p, (rng.gen_range(15..600), rng.gen_range(120..3000)))).collect();
        let json_targets: serde_json::Map<String, Value> = targets
            .iter()
            .map(|(p, (f, r))| (p.to_string(), json!({"first_response_minutes": f, "resolution_minutes": r})))
            .collect();
        let body = json!({"name": name, "business_hours": business, "targets": json_targets});
        let p = ok(app.post("/api/v1/sla-policies", &owner, body).await).await;
        policies.push(Policy { id: p["id"].as_str().unwrap().into(), business, targets });
    }
    let me = ok(app.get("/api/v1/me", &owner).await).await;
    let (_, member) = app.user_token(&owner, "member").await;
    let users =
        [(me["user"]["id"].clone(), me["user"]["name"].clone()), (member["id"].clone(), member["name"].clone())];
    let channels: Vec<Value> =
        ok(app.get("/api/v1/channels", &owner).await).await["data"].as_array().unwrap()[..3].to_vec();
    let mut customers = Vec::new();
    for i in 0..4 {
        customers.push(ok(app.post("/api/v1/customers", &owner, json!({"name": format!("Client {i}")})).await).await);
    }

    let mut world = World { hours, policies, cases: Vec::new(), deleted_customer: 3 };
    let mut t = start;
    for _ in 0..120 {
        t += Duration::minutes(rng.gen_range(7..600));
        app.clock.set(t);
        let live: Vec<usize> = (0..world.cases.len()).filter(|&i| world.cases[i].status() != "closed").collect();
        let roll: f64 = rng.gen();
        let rated: Vec<usize> = (0..world.cases.len()).filter(|&i| !unsolved(world.cases[i].status())).collect();
        if roll >= 0.8 && !rated.is_empty() {
            // The customer rates a solution (a closed case too).
            let case = &mut world.cases[rated[rng.gen_range(0..rated.len())]];
            let rating = ["good", "bad"][rng.gen_range(0..2)];
            let path = format!("/api/v1/cases/{}", case.id);
            ok(app.patch(&path, &owner, json!({"satisfaction": rating})).await).await;
            case.satisfaction = Some(rating);
            continue;
        }
        if roll < 0.25 || live.is_empty() {
            let case = Case {
                id: String::new(),
                customer: rng.gen_range(0..customers.len()),
                channel: rng.gen_range(0..channels.len()),
                assignee: [None, Some(0), Some(1)][rng.gen_range(0..3)],
                tags: TAGS.iter().copied().filter(|_| rng.gen_bool(0.4)).collect(),
                priority: PRIORITIES[rng.gen_range(0..4)],
                policy: [None, Some(0), Some(0), Some(1)][rng.gen_range(0..4)],
                created: t,
                statuses: vec![("new", t)],
                responses: Vec::new(),
                satisfaction: None,
            };
            let body = json!({
                "customer_id": customers[case.customer]["id"], "channel_id": channels[case.channel]["id"],
                "subject": "Help", "priority": case.priority, "tags": case.tags,
                "assignee_id": case.assignee.map(|u| users[u].0.clone()),
                "sla_policy_id": case.policy.map(|p| world.policies[p].id.clone()),
            });
            let made = ok(app.post("/api/v1/cases", &owner, body).await).await;
            world.cases.push(Case { id: made["id"].as_str().unwrap().into(), ..case });
            continue;
        }
        let i = live[rng.gen_range(0..live.len())];
        let path = format!("/api/v1/cases/{}", world.cases[i].id);
        let case = &mut world.cases[i];
        if roll < 0.55 {
            // Solving comes often, so that reopenings, ratings and solutions happen.
            let to = match case.status() {
                "solved" => ["open", "closed"][rng.gen_range(0..2)],
                _ if rng.gen_bool(0.4) => "solved",
                now => {
                    let choices: Vec<&str> =
                        ["open", "pending", "on_hold", "solved"].into_iter().filter(|s| *s != now).collect();
                    choices[rng.gen_range(0..choices.len())]
                }
            };
            ok(app.patch(&path, &owner, json!({"status": to})).await).await;
            if case.status() == "solved" && to == "open" {
                // A reopened case's rating was of a solution it no longer has.
                case.satisfaction = None;
            }
            case.statuses.push((to, t));
        } else if roll < 0.62 && unsolved(case.status()) {
            let priority = PRIORITIES[rng.gen_range(0..4)];
            ok(app.patch(&path, &owner, json!({"priority": priority})).await).await;
            case.priority = priority;
        } else {
            let occurred = t - Duration::minutes(rng.gen_range(0..90));
            let (direction, user) = match rng.gen_range(0..10) {
                0 | 1 => ("inbound", Value::Null),
                2 => ("outbound", Value::Null),
                _ => ("outbound", users[rng.gen_range(0..2)].0.clone()),
            };
            let body = json!({
                "customer_id": customers[case.customer]["id"], "channel_id": channels[case.channel]["id"],
                "direction": direction, "kind": "message", "user_id": user, "occurred_at": occurred,
                "case_id": case.id,
            });
            ok(app.post("/api/v1/interactions", &owner, body).await).await;
            if direction == "outbound" && !user.is_null() {
                case.responses.push(occurred);
            }
        }
    }
    // One customer leaves (soft delete): its cases leave every figure.
    let gone = format!("/api/v1/customers/{}", customers[world.deleted_customer]["id"].as_str().unwrap());
    assert_eq!(app.delete(&gone, &owner).await.status(), 204);
    let end = t + Duration::minutes(rng.gen_range(1..3000));
    app.clock.set(end);

    // Every case of a live customer: due times, facts and breaches now.
    for case in world.cases.iter().filter(|c| c.customer != world.deleted_customer) {
        let got = ok(app.get(&format!("/api/v1/cases/{}", case.id), &owner).await).await;
        let what = format!("{tz_name} case {}", got["number"]);
        let (fr_due, res_due) = world.dues(case);
        assert_eq!(instant(&got["first_response_due_at"]), fr_due, "{what} first_response_due_at");
        assert_eq!(instant(&got["resolution_due_at"]), res_due, "{what} resolution_due_at");
        assert_eq!(got["status"], case.status(), "{what}");
        assert_eq!(instant(&got["solved_at"]), case.solved_at(), "{what} solved_at");
        assert_eq!(instant(&got["closed_at"]), case.closed_at(), "{what} closed_at");
        assert_eq!(got["reopened"], case.reopenings(start, end + Duration::days(1)), "{what} reopened");
        let responded = case.first_responded_at();
        assert_eq!(instant(&got["first_responded_at"]), responded, "{what} first_responded_at");
        assert_eq!(instant(&got["answered_at"]), case.answered_at(), "{what} answered_at");
        assert_eq!(got["satisfaction"].as_str(), case.satisfaction, "{what} satisfaction");
        let business = |to: Option<DateTime<Utc>>| to.map(|to| 60 * minutes(case.created, to, |m| world.hours.open(m)));
        assert_eq!(got["first_response_business_seconds"].as_i64(), business(responded), "{what}");
        assert_eq!(got["resolution_business_seconds"].as_i64(), business(case.solved_at()), "{what}");
        let clock = world.clock(case);
        let answered = case.answered_at().unwrap_or(end);
        let fr_breach = fr_due.filter(|due| answered > *due).map(|due| minutes(due, answered, &clock));
        assert_eq!(got["first_response_breach_minutes"].as_i64(), fr_breach, "{what} first_response_breach_minutes");
        let solved = case.solved_at().unwrap_or(end);
        let res_breach = res_due
            .filter(|due| solved > *due)
            .map(|due| minutes(due, solved, |m| clock(m) && !paused(case.status_at(m))));
        assert_eq!(got["resolution_breach_minutes"].as_i64(), res_breach, "{what} resolution_breach_minutes");
    }

    // The analytics over the whole history and over a window inside it, by every grouping.
    let live: Vec<&Case> = world.cases.iter().filter(|c| c.customer != world.deleted_customer).collect();
    let middle = start + Duration::minutes((t - start).num_minutes() / 3);
    for (from, to) in [(start - Duration::days(1), end), (middle, middle + Duration::days(3))] {
        let cases: Vec<&Case> = live.iter().copied().filter(|c| world.in_window(c, from, to)).collect();
        for group_by in [None, Some("priority"), Some("channel"), Some("assignee"), Some("tag")] {
            let mut path = format!(
                "/api/v1/analytics/support?from={}&to={}",
                from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            if let Some(g) = group_by {
                path.push_str(&format!("&group_by={g}"));
            }
            let got = ok(app.get(&path, &owner).await).await;
            let what = format!("{tz_name} {path}");
            assert_same(&got["totals"], &world.figures(&cases, from, to), &format!("{what} totals"));
            if to == end {
                // The history is rich enough for every figure to mean something.
                let totals = &got["totals"];
                for figure in [
                    "created",
                    "solved",
                    "reopened",
                    "first_responses",
                    "first_response_targets",
                    "resolution_targets",
                    "satisfaction_good",
                ] {
                    assert!(totals[figure].as_i64() > Some(0), "{what}: no {figure} in {totals}");
                }
            }
            let Some(group_by) = group_by else {
                assert_eq!(got["groups"], json!([]), "{what}");
                continue;
            };
            let mut groups: Vec<(GroupKey, Vec<&Case>)> = Vec::new();
            for c in &cases {
                let keys: Vec<GroupKey> = match group_by {
                    "priority" => vec![(Some(c.priority.into()), None)],
                    "channel" => vec![(
                        Some(channels[c.channel]["id"].as_str().unwrap().into()),
                        Some(channels[c.channel]["name"].as_str().unwrap().into()),
                    )],
                    "assignee" => vec![match c.assignee {
                        Some(u) => {
                            (Some(users[u].0.as_str().unwrap().into()), Some(users[u].1.as_str().unwrap().into()))
                        }
                        None => (None, None),
                    }],
                    _ if c.tags.is_empty() => vec![(None, None)],
                    _ => c.tags.iter().map(|t| (Some(t.to_string()), None)).collect(),
                };
                for key in keys {
                    match groups.iter_mut().find(|g| g.0 == key) {
                        Some(g) => g.1.push(c),
                        None => groups.push((key, vec![c])),
                    }
                }
            }
            let mut expected: Vec<(i64, Option<String>, Option<String>, Value)> = groups
                .into_iter()
                .map(|((key, label), cs)| {
                    let f = world.figures(&cs, from, to);
                    (f["created"].as_i64().unwrap(), key, label, f)
                })
                .collect();
            expected.sort_by(|a, b| {
                b.0.cmp(&a.0).then_with(|| match (&a.1, &b.1) {
                    (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, None) => std::cmp::Ordering::Equal,
                })
            });
            let got_groups = got["groups"].as_array().unwrap();
            assert_eq!(got_groups.len(), expected.len(), "{what}: {got}");
            for (g, (_, key, label, figures)) in got_groups.iter().zip(&expected) {
                assert_eq!(g["key"].as_str(), key.as_deref(), "{what}");
                assert_eq!(g["label"].as_str(), label.as_deref(), "{what} label");
                assert_same(g, figures, &format!("{what} group {key:?}"));
            }
        }
    }
}

#[tokio::test]
async fn support_follows_the_model_in_paris() {
    // Summer time ends on Sunday 25 October 2026 (03:00 → 02:00).
    run("Europe/Paris", "2026-10-15T06:00:00Z", 1).await;
}

#[tokio::test]
async fn support_follows_the_model_in_sao_paulo() {
    // Summer time began on Sunday 4 November 2018 (midnight skipped).
    run("America/Sao_Paulo", "2018-10-25T11:00:00Z", 2).await;
}

#[tokio::test]
async fn support_follows_the_model_on_lord_howe() {
    // Summer time begins on Sunday 4 October 2026 (02:00 → 02:30).
    run("Australia/Lord_Howe", "2026-09-24T22:00:00Z", 3).await;
}
