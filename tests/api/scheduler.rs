//! The report scheduler, on a clock the tests move: several instances run each slot exactly
//! once, a slot missed while every instance was down runs once, daily schedules follow their
//! local time across daylight-saving changes, a new workspace time zone moves the next slots.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::helpers::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Fast ticks, so that a due slot runs within milliseconds of the clock reaching it.
fn fast(vars: &mut std::collections::HashMap<String, String>) {
    vars.insert("RAPPORT_SCHEDULER_TICK_MS".into(), "20".into());
}

async fn set_timezone(app: &TestApp, owner: &str, tz: &str) {
    assert_eq!(app.patch("/api/v1/workspace", owner, json!({"timezone": tz})).await.status(), 200);
}

async fn save(app: &TestApp, owner: &str, name: &str, schedule: Value) -> Value {
    let res = app
        .post("/api/v1/reports", owner, json!({"name": name, "kind": "rfm", "params": {}, "schedule": schedule}))
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn runs(app: &TestApp) -> Vec<(uuid::Uuid, DateTime<Utc>, DateTime<Utc>)> {
    sqlx::query_as("SELECT report_id, scheduled_for, started_at FROM report_runs ORDER BY scheduled_for, report_id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Waits until `n` scheduled runs are stored, then a little longer (a duplicate would show).
async fn until_runs(app: &TestApp, n: usize) -> Vec<(uuid::Uuid, DateTime<Utc>, DateTime<Utc>)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = runs(app).await;
        if got.len() >= n {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return runs(app).await;
        }
        assert!(Instant::now() < deadline, "{} of {n} runs", got.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next_run_at(app: &TestApp, report: &Value) -> Value {
    let res = app.get(&format!("/api/v1/reports/{}", report["id"].as_str().unwrap()), &app.owner_token().await).await;
    res.json::<Value>().await.unwrap()["next_run_at"].clone()
}

#[tokio::test]
async fn three_instances_run_each_slot_exactly_once() {
    let app = spawn_app_with(fast).await;
    app.clock.set(at("2026-03-27T12:00:00Z"));
    let _second = app.instance_with(fast).await;
    let _third = app.instance_with(fast).await;
    let owner = app.owner_token().await;
    set_timezone(&app, &owner, "Europe/Paris").await;
    let mut reports = Vec::new();
    for n in 0..24 {
        reports.push(save(&app, &owner, &format!("r{n}"), json!({"every": "day", "at": "07:00"})).await);
    }
    assert_eq!(reports[0]["next_run_at"], "2026-03-28T06:00:00Z");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(runs(&app).await.is_empty(), "nothing is due yet");
    // 07:00 in Paris: all 24 due at once, three instances racing.
    app.clock.set(at("2026-03-28T06:00:01Z"));
    let got = until_runs(&app, 24).await;
    assert_eq!(got.len(), 24, "each slot ran once");
    assert!(got.iter().all(|(_, slot, _)| *slot == at("2026-03-28T06:00:00Z")));
    // The next slot is after the clocks go forward: 07:00 is then 05:00 UTC.
    assert_eq!(next_run_at(&app, &reports[0]).await, "2026-03-29T05:00:00Z");
    app.clock.set(at("2026-03-29T05:00:00Z"));
    let got = until_runs(&app, 48).await;
    assert_eq!(got.len(), 48);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE type = 'report.run.succeeded'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, 48, "one event per run");
    let actors: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT actor_type FROM events WHERE type LIKE 'report.run.%'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(actors, ["system"]);
}

#[tokio::test]
async fn a_slot_missed_while_every_instance_was_down_runs_once() {
    let app = spawn_app_with(|vars| {
        fast(vars);
        vars.insert("RAPPORT_SCHEDULER".into(), "off".into());
    })
    .await;
    app.clock.set(at("2026-12-01T12:00:00Z"));
    let owner = app.owner_token().await;
    let report = save(&app, &owner, "daily", json!({"every": "day", "at": "08:30"})).await;
    assert_eq!(report["next_run_at"], "2026-12-02T08:30:00Z");
    // Five slots pass while nothing runs the scheduler.
    app.clock.set(at("2026-12-06T10:00:00Z"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(runs(&app).await.is_empty());
    // An instance comes back: the latest missed slot runs, once, late.
    let _back = app
        .instance_with(|vars| {
            fast(vars);
            vars.insert("RAPPORT_SCHEDULER".into(), "on".into());
        })
        .await;
    let got = until_runs(&app, 1).await;
    assert_eq!(got.len(), 1);
    let (_, slot, started) = got[0];
    assert_eq!(slot, at("2026-12-06T08:30:00Z"));
    assert_eq!(started, at("2026-12-06T10:00:00Z"), "the gap shows");
    assert_eq!(next_run_at(&app, &report).await, "2026-12-07T08:30:00Z");
    // The run covers the day before its slot.
    let window: (Option<DateTime<Utc>>, DateTime<Utc>) =
        sqlx::query_as("SELECT window_from, window_to FROM report_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(window.1, at("2026-12-06T00:00:00Z"), "RFM as of the end of the day that ended");
}

/// Steps a daily 07:00 report through `days` (local dates) in `tz`: each expected slot runs
/// once when the clock reaches it, and nothing runs between slots.
async fn daily_across(tz: &str, slots: &[&str]) {
    let app = spawn_app_with(fast).await;
    let first = at(slots[0]);
    app.clock.set(first - chrono::Duration::hours(20));
    let owner = app.owner_token().await;
    set_timezone(&app, &owner, tz).await;
    let report = save(&app, &owner, "daily", json!({"every": "day", "at": "07:00"})).await;
    assert_eq!(report["next_run_at"], json!(slots[0]), "{tz}");
    for (n, slot) in slots.iter().enumerate() {
        let slot = at(slot);
        app.clock.set(slot - chrono::Duration::minutes(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(runs(&app).await.len(), n, "{tz}: not before {slot}");
        app.clock.set(slot + chrono::Duration::minutes(30));
        let got = until_runs(&app, n + 1).await;
        assert_eq!(got.len(), n + 1, "{tz}: once at {slot}");
        assert_eq!(got[n].1, slot, "{tz}");
    }
}

#[tokio::test]
async fn daily_reports_keep_their_local_time_across_daylight_saving_changes() {
    // São Paulo: clocks went forward at midnight on 2018-11-04 (UTC-3 → UTC-2) and back at
    // midnight on 2019-02-17.
    daily_across("America/Sao_Paulo", &["2018-11-03T10:00:00Z", "2018-11-04T09:00:00Z", "2018-11-05T09:00:00Z"]).await;
    daily_across("America/Sao_Paulo", &["2019-02-16T09:00:00Z", "2019-02-17T10:00:00Z", "2019-02-18T10:00:00Z"]).await;
    // Paris: forward on 2026-03-29 at 02:00, back on 2026-10-25 at 03:00.
    daily_across("Europe/Paris", &["2026-03-28T06:00:00Z", "2026-03-29T05:00:00Z", "2026-03-30T05:00:00Z"]).await;
    daily_across("Europe/Paris", &["2026-10-24T05:00:00Z", "2026-10-25T06:00:00Z", "2026-10-26T06:00:00Z"]).await;
}

#[tokio::test]
async fn a_new_workspace_time_zone_moves_the_next_slots() {
    let app = spawn_app().await;
    app.clock.set(at("2026-06-10T12:00:00Z"));
    let owner = app.owner_token().await;
    set_timezone(&app, &owner, "UTC").await;
    let daily = save(&app, &owner, "daily", json!({"every": "day", "at": "07:00"})).await;
    let monthly = save(&app, &owner, "monthly", json!({"every": "month", "day": "last", "at": "18:00"})).await;
    assert_eq!(daily["next_run_at"], "2026-06-11T07:00:00Z");
    assert_eq!(monthly["next_run_at"], "2026-06-30T18:00:00Z");
    set_timezone(&app, &owner, "Asia/Tokyo").await;
    assert_eq!(next_run_at(&app, &daily).await, "2026-06-10T22:00:00Z");
    assert_eq!(next_run_at(&app, &monthly).await, "2026-06-30T09:00:00Z");
    let version: i64 = sqlx::query_scalar("SELECT max(version) FROM reports").fetch_one(&app.pool).await.unwrap();
    assert_eq!(version, 1, "moving the slot is not an edit of the report");
}
