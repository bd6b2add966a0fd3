//! Saved reports: CRUD, parameters read by the analytics endpoints' own code, runs equal to
//! the endpoints' answers (as JSON and as CSV), relative ranges in the workspace's time zone,
//! failed runs stored.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::analytics::generate;
use crate::helpers::*;
use crate::pipelines::default_pipeline;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn save(app: &TestApp, token: &str, body: Value) -> Value {
    json_of(app.post("/api/v1/reports", token, body).await, 201).await
}

async fn run(app: &TestApp, token: &str, report: &Value) -> Value {
    let path = format!("/api/v1/reports/{}/runs", report["id"].as_str().unwrap());
    json_of(app.post(&path, token, json!({})).await, 201).await
}

async fn fields_of(res: reqwest::Response) -> Vec<String> {
    let body = assert_problem(res, 422, "validation_failed").await;
    body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn reports_are_saved_changed_and_removed_like_every_resource() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let (member, _) = app.user_token(&owner, "member").await;
    let (viewer, _) = app.user_token(&owner, "viewer").await;
    let pipeline = default_pipeline(&app, &owner).await;
    let pipeline_id = pipeline["id"].as_str().unwrap();
    let body = json!({"name": "Weekly funnel", "kind": "funnel",
                      "params": {"pipeline_id": pipeline_id, "range": "previous_week", "owner_id": null},
                      "schedule": {"every": "week"}});
    assert_problem(app.post("/api/v1/reports", &member, body.clone()).await, 403, "forbidden").await;
    let res = app.post("/api/v1/reports", &owner, body).await;
    assert_eq!(res.headers()["etag"], "\"1\"");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let report = json_of(res, 201).await;
    assert_eq!(location, format!("/api/v1/reports/{}", report["id"].as_str().unwrap()));
    assert_eq!(report["params"], json!({"pipeline_id": pipeline_id, "range": "previous_week"}), "nulls are defaults");
    assert_eq!(report["schedule"], json!({"every": "week", "at": "07:00", "weekday": 1}));
    assert_eq!(report["last_run_at"], Value::Null);
    let next: DateTime<Utc> = serde_json::from_value(report["next_run_at"].clone()).unwrap();
    assert!(next > Utc::now() && next <= Utc::now() + Duration::days(7), "{next}");

    assert_eq!(json_of(app.get(&location, &viewer).await, 200).await, report);
    let page = json_of(app.get("/api/v1/reports", &viewer).await, 200).await;
    assert_eq!(page["data"], json!([report.clone()]));

    // A change: the name alone keeps the slot; a new schedule moves it.
    let renamed = json_of(app.patch(&location, &owner, json!({"name": "Funnel"})).await, 200).await;
    assert_eq!((renamed["version"].clone(), renamed["next_run_at"].clone()), (json!(2), report["next_run_at"].clone()));
    let daily = json_of(app.patch(&location, &owner, json!({"schedule": {"every": "day"}})).await, 200).await;
    assert_eq!(daily["schedule"], json!({"every": "day", "at": "07:00"}));
    let next_daily: DateTime<Utc> = serde_json::from_value(daily["next_run_at"].clone()).unwrap();
    assert!(next_daily <= Utc::now() + Duration::days(1));
    let unscheduled = json_of(app.patch(&location, &owner, json!({"schedule": null})).await, 200).await;
    assert_eq!((unscheduled["schedule"].clone(), unscheduled["next_run_at"].clone()), (Value::Null, Value::Null));
    let stale = app
        .client
        .patch(app.url(&location))
        .bearer_auth(&owner)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Late"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "precondition_failed").await;
    assert_problem(app.patch(&location, &owner, json!({"kind": "basket"})).await, 422, "validation_failed").await;

    // Runs need a member; removal takes the runs with it.
    assert_problem(app.post(&format!("{location}/runs"), &viewer, json!({})).await, 403, "forbidden").await;
    run(&app, &member, &report).await;
    assert_eq!(app.delete(&location, &owner).await.status(), 204);
    assert_problem(app.get(&location, &owner).await, 404, "not_found").await;
    assert_problem(app.get(&format!("{location}/runs"), &owner).await, 404, "not_found").await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM report_runs").fetch_one(&app.pool).await.unwrap();
    assert_eq!(left, 0);
    // Another workspace sees none of it.
    let other = app.other_workspace().await;
    assert_eq!(json_of(app.get("/api/v1/reports", &other).await, 200).await["data"], json!([]));
}

#[tokio::test]
async fn params_are_checked_by_the_endpoints_own_code() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let post = |kind: &str, params: Value| {
        app.post("/api/v1/reports", &owner, json!({"name": "R", "kind": kind, "params": params}))
    };
    let unknown = uuid::Uuid::now_v7();
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("funnel", json!({}), vec!["params.pipeline_id"]),
        ("funnel", json!({"pipeline_id": "nope"}), vec!["params.pipeline_id"]),
        ("funnel", json!({"pipeline_id": unknown}), vec!["params.pipeline_id"]),
        ("segments", json!({"dimension": "planet"}), vec!["params.dimension"]),
        ("segments", json!({"dimension": "country", "from": "2026-02-30"}), vec!["params.from"]),
        ("rfm", json!({"as_of": "yesterday"}), vec!["params.as_of"]),
        ("cohorts", json!({"period": "year"}), vec!["params.period"]),
        ("interactions", json!({"bucket": "hour"}), vec!["params.bucket"]),
        ("interactions", json!({"group_by": "planet"}), vec!["params.group_by"]),
        ("basket", json!({"limit": 0}), vec!["params.limit"]),
        ("basket", json!({"min_support": 2}), vec!["params.min_support"]),
        ("basket", json!({"color": "red"}), vec!["params.color"]),
        ("support", json!({"from": "2026-02-01", "to": "2026-01-01"}), vec!["params.from"]),
        ("interactions", json!({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}), vec!["params.from"]),
        ("cohorts", json!({"range": "last_year"}), vec!["params.range"]),
        (
            "cohorts",
            json!({"range": "last_7_days", "from": "2026-01-01", "to": "2026-02-01"}),
            vec!["params.from", "params.to"],
        ),
        ("rfm", json!({"range": "previous_month", "as_of": "2026-01-01"}), vec!["params.as_of"]),
        ("cohorts", json!({"from": ["2026-01-01"]}), vec!["params.from"]),
        ("cohorts", json!([1]), vec!["params"]),
    ];
    for (kind, params, expected) in cases {
        let fields = fields_of(post(kind, params.clone()).await).await;
        assert_eq!(fields, expected, "{kind} {params}");
    }
    // The schedule and the name too, all in one answer.
    let res = app
        .post(
            "/api/v1/reports",
            &owner,
            json!({"name": "", "kind": "rfm", "schedule": {"every": "month", "day": 29, "at": "25:00", "weekday": 1}}),
        )
        .await;
    assert_eq!(fields_of(res).await, ["name", "schedule.at", "schedule.weekday", "schedule.day"]);
    assert_eq!(fields_of(post("planets", json!({})).await).await, ["kind"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM reports").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 0, "nothing refused was saved");
    // What the endpoint accepts, a report accepts.
    let ok = [
        ("segments", json!({"dimension": "attr.plan", "from": "2026-01-01", "to": "2026-02-01T00:00:00+01:00"})),
        ("rfm", json!({"as_of": "2026-01-01"})),
        ("cohorts", json!({"period": "week", "range": "previous_quarter"})),
        ("interactions", json!({"bucket": "month", "group_by": "kind", "range": "year_to_date"})),
        ("basket", json!({"min_support": "0.05", "limit": 5, "range": "month_to_date"})),
    ];
    let whole = json!({"name": "w", "kind": "rfm", "schedule": {"every": "week", "weekday": 4.0, "at": null}});
    assert_eq!(save(&app, &owner, whole).await["schedule"], json!({"every": "week", "at": "07:00", "weekday": 4}));
    for (kind, params) in ok {
        assert_eq!(post(kind, params).await.status(), 201, "{kind}");
    }
}

/// The analytics path and query string that give what a report of `kind` with `params` gives.
fn endpoint(kind: &str, params: &Value) -> String {
    let query: Vec<String> = params
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            format!("{k}={}", urlencode(v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()).as_str()))
        })
        .collect();
    format!("/api/v1/analytics/{kind}?{}", query.join("&"))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A CSV cell as the run writes the JSON value.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) => format!("'{s}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn runs_answer_what_the_endpoints_answer_as_json_and_csv() {
    let app = spawn_app().await;
    let mut rng = StdRng::seed_from_u64(11);
    let now = Utc::now();
    let world = generate(&app, &mut rng, now, "Europe/Paris").await;
    let owner = world.owner.clone();
    let window = |p: Value| {
        let mut p = p;
        p["from"] = json!((now - Duration::days(800)).format("%Y-%m-%d").to_string());
        p["to"] = json!((now + Duration::days(1)).format("%Y-%m-%d").to_string());
        p
    };
    let customer = world.customers[0];
    let kinds = [
        ("funnel", window(json!({"pipeline_id": world.pipelines[0]}))),
        ("segments", window(json!({"dimension": "tag"}))),
        ("rfm", json!({"as_of": (now + Duration::days(1)).format("%Y-%m-%d").to_string()})),
        ("cohorts", window(json!({"period": "week"}))),
        ("interactions", window(json!({"bucket": "week", "group_by": "channel"}))),
        ("basket", window(json!({"min_support": "0.01", "limit": 50}))),
    ];
    for (kind, params) in kinds {
        let report = save(&app, &owner, json!({"name": kind, "kind": kind, "params": params})).await;
        let r = run(&app, &owner, &report).await;
        assert_eq!(r["status"], "succeeded", "{kind}: {r}");
        assert_eq!(
            (r["trigger"].clone(), r["scheduled_for"].clone(), r["error"].clone()),
            (json!("manual"), Value::Null, Value::Null)
        );
        let expected = json_of(app.get(&endpoint(kind, &params), &owner).await, 200).await;
        assert_eq!(r["result"], expected, "{kind}: the run answers what the endpoint answers");
        let to = if kind == "rfm" { &expected["as_of"] } else { &expected["to"] };
        assert_eq!(r["window"]["to"], *to, "{kind}");
        // As CSV: a header, then a row per item of the answer, each cell the JSON value.
        let path = format!("/api/v1/reports/{}/runs/{}", report["id"].as_str().unwrap(), r["id"].as_str().unwrap());
        let res = app.client.get(app.url(&path)).bearer_auth(&owner).header("accept", "text/csv").send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        let text = res.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        let items: Vec<Value> = match kind {
            "funnel" => expected["stages"].as_array().unwrap().clone(),
            "segments" => expected["groups"].as_array().unwrap().clone(),
            "rfm" => expected["segments"].as_array().unwrap().clone(),
            "basket" => expected["pairs"].as_array().unwrap().clone(),
            "cohorts" => expected["cohorts"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| {
                    c["retention"].as_array().unwrap().iter().map(move |r| {
                        json!({"cohort": c["cohort"], "size": c["size"], "offset": r["offset"], "active": r["active"], "rate": r["rate"]})
                    })
                })
                .collect(),
            _ => expected["series"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| {
                    s["points"].as_array().unwrap().iter().map(move |p| {
                        json!({"group": s["group"], "label": s["label"], "bucket": p["bucket"], "count": p["count"], "value_cents": p["value_cents"]})
                    })
                })
                .collect(),
        };
        assert!(!items.is_empty(), "{kind}: the world gives rows");
        assert_eq!(rows.len(), items.len(), "{kind}");
        for (row, item) in rows.iter().zip(&items) {
            let want: Vec<String> = header.iter().map(|h| cell(&item[h.as_str()])).collect();
            assert_eq!(row, &want, "{kind}");
        }
        // A run is listed newest first and read back as it was answered.
        assert_eq!(json_of(app.get(&path, &owner).await, 200).await, r);
        let listed =
            json_of(app.get(&format!("/api/v1/reports/{}/runs", report["id"].as_str().unwrap()), &owner).await, 200)
                .await;
        assert_eq!(listed["data"], json!([r]));
    }
    // One customer's RFM is a table of one row.
    let report = save(&app, &owner, json!({"name": "one", "kind": "rfm", "params": {"customer_id": customer}})).await;
    let r = run(&app, &owner, &report).await;
    if r["status"] == "succeeded" {
        let path = format!("/api/v1/reports/{}/runs/{}", report["id"].as_str().unwrap(), r["id"].as_str().unwrap());
        let res = app.client.get(app.url(&path)).bearer_auth(&owner).header("accept", "text/csv").send().await.unwrap();
        assert_eq!(res.text().await.unwrap().lines().count(), 2);
    }
    let res = app
        .client
        .get(app.url("/api/v1/reports"))
        .bearer_auth(&owner)
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "lists are JSON whatever Accept says");
}

#[tokio::test]
async fn ranges_are_resolved_in_the_workspace_time_zone_on_the_day_of_the_run() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    assert_eq!(app.patch("/api/v1/workspace", &owner, json!({"timezone": "Europe/Paris"})).await.status(), 200);
    let window_of = |r: &Value| (r["window"]["from"].clone(), r["window"]["to"].clone());
    let cases = [
        // 00:30 on 1 April in Paris is still 31 March in UTC: the previous month is March.
        ("previous_month", "2026-03-31T22:30:00Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"),
        // The week before the clocks went forward: its end is a midnight at UTC+2.
        ("previous_week", "2026-03-30T10:00:00Z", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z"),
        ("last_7_days", "2026-03-30T10:00:00Z", "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z"),
        ("previous_quarter", "2026-01-15T12:00:00Z", "2025-09-30T22:00:00Z", "2025-12-31T23:00:00Z"),
        ("month_to_date", "2026-10-25T12:00:00Z", "2026-09-30T22:00:00Z", "2026-10-25T12:00:00Z"),
        ("year_to_date", "2026-02-28T23:30:00Z", "2025-12-31T23:00:00Z", "2026-02-28T23:30:00Z"),
    ];
    for (range, now, from, to) in cases {
        app.clock.set(at(now));
        let report =
            save(&app, &owner, json!({"name": range, "kind": "interactions", "params": {"range": range}})).await;
        let r = run(&app, &owner, &report).await;
        assert_eq!(r["status"], "succeeded", "{r}");
        assert_eq!(window_of(&r), (json!(from), json!(to)), "{range} at {now}");
        assert_eq!(r["started_at"], json!(now));
    }
    // A weekly report without a window covers last week (Monday to Monday), when asked for too.
    app.clock.set(at("2026-03-31T09:00:00Z"));
    let weekly = save(
        &app,
        &owner,
        json!({"name": "weekly", "kind": "cohorts", "params": {"period": "week"}, "schedule": {"every": "week"}}),
    )
    .await;
    let r = run(&app, &owner, &weekly).await;
    assert_eq!(window_of(&r), (json!("2026-03-22T23:00:00Z"), json!("2026-03-29T22:00:00Z")));
    // RFM over a range: as of its end.
    app.clock.set(at("2026-03-31T22:30:00Z"));
    let report = save(&app, &owner, json!({"name": "rfm", "kind": "rfm", "params": {"range": "previous_month"}})).await;
    let r = run(&app, &owner, &report).await;
    assert_eq!(window_of(&r), (Value::Null, json!("2026-03-31T22:00:00Z")));
}

#[tokio::test]
async fn a_failing_run_is_stored_as_failed() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let pipeline = json_of(
        app.post(
            "/api/v1/pipelines",
            &owner,
            json!({"name": "Short-lived", "stages": [{"name": "Open", "kind": "open"}, {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]}),
        )
        .await,
        201,
    )
    .await;
    let report =
        save(&app, &owner, json!({"name": "f", "kind": "funnel", "params": {"pipeline_id": pipeline["id"]}})).await;
    let pipeline_path = format!("/api/v1/pipelines/{}", pipeline["id"].as_str().unwrap());
    assert_eq!(app.delete(&pipeline_path, &owner).await.status(), 204);
    let r = run(&app, &owner, &report).await;
    assert_eq!(r["status"], "failed");
    assert_eq!(r["result"], Value::Null);
    assert_eq!((r["error"]["status"].clone(), r["error"]["code"].clone()), (json!(404), json!("not_found")));
    let path = format!("/api/v1/reports/{}/runs/{}", report["id"].as_str().unwrap(), r["id"].as_str().unwrap());
    assert_eq!(json_of(app.get(&path, &owner).await, 200).await, r, "kept");
    let csv = app.client.get(app.url(&path)).bearer_auth(&owner).header("accept", "text/csv").send().await.unwrap();
    assert_problem(csv, 409, "conflict").await;
    let events: Vec<String> = sqlx::query_scalar("SELECT type FROM events WHERE type LIKE 'report.run.%'")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, ["report.run.failed"]);
    let shown =
        json_of(app.get(&format!("/api/v1/reports/{}", report["id"].as_str().unwrap()), &owner).await, 200).await;
    assert_eq!(shown["last_run_at"], r["started_at"]);
    assert_eq!(shown["version"], 1, "a run is not an edit");
    // A run that outlives its time limit fails too, as unavailable.
    let ws = rapport::domain::WorkspaceId(
        sqlx::query_scalar("SELECT id FROM workspaces").fetch_one(&app.pool).await.unwrap(),
    );
    let slow = rapport::analytics::report::Saved::parse(
        rapport::analytics::report::Kind::Interactions,
        &json!({"bucket": "day", "from": "2015-01-01", "to": "2026-01-01"}),
    )
    .unwrap();
    let answer = rapport::analytics::limited(std::time::Duration::from_millis(1), slow.params.run(&app.pool, ws)).await;
    match answer {
        Err(e) => assert_eq!(e.problem().code, "unavailable", "{e}"),
        Ok(_) => panic!("4,018 daily buckets in a millisecond"),
    }
}

/// A report saved before a rule it breaks was checked on save (a window ending before it
/// starts) runs, and fails with the problem: `422` naming the parameter, stored like any failed
/// run.
#[tokio::test]
async fn a_report_saved_before_a_rule_fails_its_runs() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let report = save(&app, &owner, json!({"name": "old", "kind": "support", "params": {"from": "2026-01-01"}})).await;
    sqlx::query(
        "UPDATE reports SET params = '{\"from\": \"2026-02-01\", \"to\": \"2026-01-01\"}' WHERE id = $1::text::uuid",
    )
    .bind(report["id"].as_str().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let r = run(&app, &owner, &report).await;
    assert_eq!(r["status"], "failed");
    assert_eq!((r["error"]["status"].clone(), r["error"]["code"].clone()), (json!(422), json!("validation_failed")));
    assert_eq!(r["error"]["errors"][0]["field"], "params.from");
}
