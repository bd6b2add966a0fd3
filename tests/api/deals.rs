use serde_json::{json, Value};

use crate::helpers::*;
use crate::pipelines::default_pipeline;

struct World {
    owner: String,
    pipeline: Value,
    customer: Value,
}

async fn world(app: &TestApp) -> World {
    let owner = app.owner_token().await;
    let pipeline = default_pipeline(app, &owner).await;
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Dee"})).await.json().await.unwrap();
    World { owner, pipeline, customer }
}

fn stage(w: &World, i: usize) -> Value {
    w.pipeline["stages"][i]["id"].clone()
}

async fn new_deal(app: &TestApp, w: &World, extra: Value) -> Value {
    let mut body = json!({"pipeline_id": w.pipeline["id"], "customer_id": w.customer["id"], "title": "Deal", "amount_cents": 1000});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = app.post("/api/v1/deals", &w.owner, body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn history(app: &TestApp, w: &World, deal: &Value) -> Vec<Value> {
    let res = app.get(&format!("/api/v1/deals/{}/history", deal["id"].as_str().unwrap()), &w.owner).await;
    assert_eq!(res.status(), 200);
    res.json::<Vec<Value>>().await.unwrap()
}

#[tokio::test]
async fn deals_move_and_keep_their_history() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let d = new_deal(&app, &w, json!({"created_at": "2024-01-01T00:00:00Z"})).await;
    assert_eq!(d["stage_id"], stage(&w, 0), "the first stage by default");
    assert_eq!(d["status"], "open");
    assert!(d["closed_at"].is_null());
    let h = history(&app, &w, &d).await;
    assert_eq!(h.len(), 1);
    assert!(h[0]["from_stage_id"].is_null());
    assert_eq!(h[0]["changed_at"], "2024-01-01T00:00:00Z", "the creation event is at created_at");

    let path = format!("/api/v1/deals/{}", d["id"].as_str().unwrap());
    let res = app.patch(&path, &w.owner, json!({"stage_id": stage(&w, 2), "changed_at": "2024-02-01T00:00:00Z"})).await;
    assert_eq!(res.status(), 200);
    let won: Value = app
        .patch(&path, &w.owner, json!({"stage_id": stage(&w, 4), "changed_at": "2024-03-01T00:00:00Z"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(won["status"], "won");
    assert_eq!(won["closed_at"], "2024-03-01T00:00:00Z");
    // Back to open: reopened, closed_at cleared.
    let reopened: Value = app.patch(&path, &w.owner, json!({"stage_id": stage(&w, 1)})).await.json().await.unwrap();
    assert_eq!(reopened["status"], "open");
    assert!(reopened["closed_at"].is_null());
    let lost: Value = app.patch(&path, &w.owner, json!({"stage_id": stage(&w, 5)})).await.json().await.unwrap();
    assert_eq!(lost["status"], "lost");

    // Back-fill rules.
    assert_problem(
        app.patch(&path, &w.owner, json!({"stage_id": stage(&w, 0), "changed_at": "2024-02-15T00:00:00Z"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        app.patch(&path, &w.owner, json!({"stage_id": stage(&w, 0), "changed_at": "2999-01-01T00:00:00Z"})).await,
        422,
        "validation_failed",
    )
    .await;
    let h = history(&app, &w, &d).await;
    let tos: Vec<&Value> = h.iter().map(|e| &e["to_stage_id"]).collect();
    assert_eq!(tos, [&stage(&w, 0), &stage(&w, 2), &stage(&w, 4), &stage(&w, 1), &stage(&w, 5)]);
    assert_eq!(h[1]["from_stage_id"], stage(&w, 0));

    // The history is append-only, even for SQL.
    let err = sqlx::query("UPDATE deal_stage_events SET changed_at = now()").execute(&app.pool).await.unwrap_err();
    assert!(err.to_string().contains("append-only"));

    // Each event carries its deal's creation time (the funnel reads stays by it): it cannot
    // change, an event with another is refused, and so is a change of the deal's own.
    let deal: uuid::Uuid = d["id"].as_str().unwrap().parse().unwrap();
    let err = sqlx::query("UPDATE deal_stage_events SET deal_created_at = now() WHERE deal_id = $1")
        .bind(deal)
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query(
        "INSERT INTO deal_stage_events (workspace_id, id, deal_id, to_stage_id, changed_at, deal_created_at)
         SELECT workspace_id, gen_random_uuid(), id, stage_id, now(), created_at + interval '1 second'
           FROM deals WHERE id = $1",
    )
    .bind(deal)
    .execute(&app.pool)
    .await
    .unwrap_err();
    assert_eq!(err.as_database_error().and_then(|e| e.constraint()), Some("deal_stage_events_deal_fkey"), "{err}");
    let err = sqlx::query("UPDATE deals SET created_at = created_at - interval '1 day' WHERE id = $1")
        .bind(deal)
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert_eq!(err.as_database_error().and_then(|e| e.constraint()), Some("deal_stage_events_deal_fkey"), "{err}");
    assert_eq!(history(&app, &w, &d).await.len(), 5, "nothing of the refused writes landed");
}

#[tokio::test]
async fn a_deal_created_in_a_closed_stage_is_closed() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let d = new_deal(&app, &w, json!({"stage_id": stage(&w, 5), "created_at": "2024-05-05T00:00:00Z"})).await;
    assert_eq!(d["status"], "lost");
    assert_eq!(d["closed_at"], "2024-05-05T00:00:00Z");
}

#[tokio::test]
async fn references_and_validation() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let other: Value = app.post("/api/v1/pipelines", &w.owner, json!({"name": "Other"})).await.json().await.unwrap();
    let base = json!({"pipeline_id": w.pipeline["id"], "customer_id": w.customer["id"], "title": "T"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("stage_id", other["stages"][0]["id"].clone()), "stage_id"),
        (with("customer_id", json!(uuid::Uuid::now_v7())), "customer_id"),
        (with("pipeline_id", json!(uuid::Uuid::now_v7())), "pipeline_id"),
        (with("owner_id", json!(uuid::Uuid::now_v7())), "owner_id"),
        (with("amount_cents", json!(-1)), "amount_cents"),
        (with("title", json!("")), "title"),
        (with("created_at", json!("2999-01-01T00:00:00Z")), "created_at"),
    ] {
        let p = assert_problem(app.post("/api/v1/deals", &w.owner, body).await, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field);
    }
    let d = new_deal(&app, &w, json!({})).await;
    let path = format!("/api/v1/deals/{}", d["id"].as_str().unwrap());
    let p = assert_problem(
        app.patch(&path, &w.owner, json!({"stage_id": other["stages"][0]["id"]})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "stage_id");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM deal_stage_events").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1);
    // Another workspace sees none of it.
    let stranger = app.other_workspace().await;
    assert_problem(app.get(&path, &stranger).await, 404, "not_found").await;
    assert_problem(app.patch(&path, &stranger, json!({"title": "x"})).await, 404, "not_found").await;
    assert_problem(app.get(&format!("{path}/history"), &stranger).await, 404, "not_found").await;
    let list: Value = app.get("/api/v1/deals", &stranger).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let pipes: Value = app.get("/api/v1/pipelines", &stranger).await.json().await.unwrap();
    assert!(pipes["data"].as_array().unwrap().iter().all(|p| p["id"] != w.pipeline["id"]));
}

#[tokio::test]
async fn concurrent_moves_are_both_recorded_in_order() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let d = new_deal(&app, &w, json!({})).await;
    let path = format!("/api/v1/deals/{}", d["id"].as_str().unwrap());
    let (a, b) = tokio::join!(
        app.patch(&path, &w.owner, json!({"stage_id": stage(&w, 1)})),
        app.patch(&path, &w.owner, json!({"stage_id": stage(&w, 2)}))
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let h = history(&app, &w, &d).await;
    assert_eq!(h.len(), 3);
    // Each move starts where the previous one left the deal: no interleaving.
    assert_eq!(h[1]["from_stage_id"], h[0]["to_stage_id"]);
    assert_eq!(h[2]["from_stage_id"], h[1]["to_stage_id"]);
    let now: Value = app.get(&path, &w.owner).await.json().await.unwrap();
    assert_eq!(now["stage_id"], h[2]["to_stage_id"]);
}

#[tokio::test]
async fn deleting_a_stage_moves_or_refuses_and_archives() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let d = new_deal(&app, &w, json!({"stage_id": stage(&w, 1)})).await;
    let p = format!("/api/v1/pipelines/{}", w.pipeline["id"].as_str().unwrap());
    let qualified = stage(&w, 1);
    let q = qualified.as_str().unwrap();
    assert_problem(app.delete(&format!("{p}/stages/{q}"), &w.owner).await, 409, "conflict").await;
    assert_problem(app.delete(&format!("{p}/stages/{q}?move_to={q}"), &w.owner).await, 422, "validation_failed").await;
    let res = app.delete(&format!("{p}/stages/{q}?move_to={}", stage(&w, 2).as_str().unwrap()), &w.owner).await;
    assert_eq!(res.status(), 204);
    let moved: Value =
        app.get(&format!("/api/v1/deals/{}", d["id"].as_str().unwrap()), &w.owner).await.json().await.unwrap();
    assert_eq!(moved["stage_id"], stage(&w, 2));
    let h = history(&app, &w, &d).await;
    assert_eq!(h.last().unwrap()["from_stage_id"], qualified, "the move is recorded");
    // History points at it: archived, out of the pipeline, still in the table.
    let pipeline: Value = app.get(&p, &w.owner).await.json().await.unwrap();
    assert!(pipeline["stages"].as_array().unwrap().iter().all(|s| s["id"] != qualified));
    let archived: bool = sqlx::query_scalar("SELECT archived_at IS NOT NULL FROM stages WHERE id = $1")
        .bind(uuid::Uuid::parse_str(q).unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(archived);
    // A pipeline with deals cannot go.
    assert_problem(app.delete(&p, &w.owner).await, 409, "conflict").await;
}

#[tokio::test]
async fn the_timeline_merges_stage_changes_and_the_summary_lists_open_deals() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let channels: Value = app.get("/api/v1/channels", &w.owner).await.json().await.unwrap();
    let body = json!({"customer_id": w.customer["id"], "channel_id": channels["data"][0]["id"], "direction": "inbound", "kind": "note", "occurred_at": "2024-01-02T00:00:00Z"});
    assert_eq!(app.post("/api/v1/interactions", &w.owner, body).await.status(), 201);
    let d = new_deal(&app, &w, json!({"created_at": "2024-01-01T00:00:00Z", "title": "Big one"})).await;
    let path = format!("/api/v1/deals/{}", d["id"].as_str().unwrap());
    assert_eq!(
        app.patch(&path, &w.owner, json!({"stage_id": stage(&w, 3), "changed_at": "2024-01-03T00:00:00Z"}))
            .await
            .status(),
        200
    );
    let c = format!("/api/v1/customers/{}", w.customer["id"].as_str().unwrap());
    let page: Value = app.get(&format!("{c}/timeline?limit=2"), &w.owner).await.json().await.unwrap();
    let types: Vec<&str> = page["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["stage_change", "interaction"]);
    assert_eq!(page["data"][0]["stage_change"]["deal_title"], "Big one");
    let rest: Value = app
        .get(&format!("{c}/timeline?limit=2&cursor={}", page["next_cursor"].as_str().unwrap()), &w.owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["data"][0]["stage_change"]["from_stage_id"].is_null(), "the creation");
    let s: Value = app.get(&format!("{c}/summary"), &w.owner).await.json().await.unwrap();
    assert_eq!(s["open_deals"][0]["stage_name"], "Negotiation");
    assert_eq!(s["open_deals"][0]["stage_probability"], 75);
}

#[tokio::test]
async fn filters_and_pages() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let (_, member) = app.user_token(&w.owner, "member").await;
    let other: Value = app.post("/api/v1/customers", &w.owner, json!({"name": "Eve"})).await.json().await.unwrap();
    new_deal(&app, &w, json!({"title": "A", "created_at": "2024-01-01T00:00:00Z"})).await;
    new_deal(
        &app,
        &w,
        json!({"title": "B", "stage_id": stage(&w, 4), "owner_id": member["id"], "created_at": "2024-02-01T00:00:00Z"}),
    )
    .await;
    new_deal(&app, &w, json!({"title": "C", "customer_id": other["id"], "stage_id": stage(&w, 5), "created_at": "2024-03-01T00:00:00Z"})).await;
    let titles = |q: String| {
        let app = &app;
        let t = w.owner.clone();
        async move {
            let res = app.get(&format!("/api/v1/deals?{q}"), &t).await;
            assert_eq!(res.status(), 200, "{q}");
            let v: Value = res.json().await.unwrap();
            v["data"].as_array().unwrap().iter().map(|d| d["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(titles(String::new()).await, ["C", "B", "A"], "newest first");
    assert_eq!(titles("status=won".into()).await, ["B"]);
    assert_eq!(titles("status=open".into()).await, ["A"]);
    assert_eq!(titles(format!("stage_id={}", stage(&w, 5).as_str().unwrap())).await, ["C"]);
    assert_eq!(titles(format!("customer_id={}", other["id"].as_str().unwrap())).await, ["C"]);
    assert_eq!(titles(format!("owner_id={}", member["id"].as_str().unwrap())).await, ["B"]);
    assert_eq!(titles(format!("pipeline_id={}", w.pipeline["id"].as_str().unwrap())).await.len(), 3);
    assert_eq!(titles("created_after=2024-01-15T00:00:00Z&created_before=2024-02-15T00:00:00Z".into()).await, ["B"]);
    let page: Value = app.get("/api/v1/deals?limit=2", &w.owner).await.json().await.unwrap();
    let rest: Value = app
        .get(&format!("/api/v1/deals?limit=2&cursor={}", page["next_cursor"].as_str().unwrap()), &w.owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][0]["title"], "A");
}

#[tokio::test]
async fn deals_follow_a_change_of_their_stage_kind() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let d = new_deal(&app, &w, json!({"stage_id": stage(&w, 3)})).await;
    let p =
        format!("/api/v1/pipelines/{}/stages/{}", w.pipeline["id"].as_str().unwrap(), stage(&w, 3).as_str().unwrap());
    assert_eq!(app.patch(&p, &w.owner, json!({"kind": "won"})).await.status(), 200);
    let now: Value =
        app.get(&format!("/api/v1/deals/{}", d["id"].as_str().unwrap()), &w.owner).await.json().await.unwrap();
    assert_eq!(now["status"], "won");
    assert!(now["closed_at"].is_string());
    assert_eq!(app.patch(&p, &w.owner, json!({"kind": "open"})).await.status(), 200);
    let again: Value =
        app.get(&format!("/api/v1/deals/{}", d["id"].as_str().unwrap()), &w.owner).await.json().await.unwrap();
    assert_eq!(again["status"], "open");
    assert!(again["closed_at"].is_null());
}

/// Waits until `at_least` backends of the test database wait for a lock (`advisory`: an
/// advisory lock; `None`: any lock), or fails naming `what` after 30 s.
async fn until_waiting(app: &TestApp, event: Option<&str>, at_least: i64, what: &str) {
    for _ in 0..3000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND ($1::text IS NULL OR wait_event = $1)",
        )
        .bind(event)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if waiting >= at_least {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{what} never waited");
}

fn uuid(v: &Value) -> uuid::Uuid {
    uuid::Uuid::parse_str(v.as_str().unwrap()).unwrap()
}

/// A new deal in `stage`, and another writer's transaction that holds its row: a change of the
/// stage waits for it until that transaction ends.
async fn deal_held_in(app: &TestApp, w: &World, stage: &Value) -> (Value, sqlx::Transaction<'static, sqlx::Postgres>) {
    let deal = new_deal(app, w, json!({"stage_id": stage})).await;
    let mut other = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM deals WHERE id = $1 FOR UPDATE")
        .bind(uuid(&deal["id"]))
        .execute(&mut *other)
        .await
        .unwrap();
    (deal, other)
}

/// Moves `deal` from stage `from` to `to` in `tx`, as another writer would (the deal and its
/// history, the move recorded at the statement's clock), without committing.
async fn move_by_hand(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>, deal: &Value, from: &Value, to: &Value) {
    sqlx::query(
        "WITH moved AS (UPDATE deals SET stage_id = $3 WHERE id = $1 RETURNING workspace_id, id, created_at)
         INSERT INTO deal_stage_events (workspace_id, id, deal_id, from_stage_id, to_stage_id, changed_at, deal_created_at)
         SELECT workspace_id, gen_random_uuid(), id, $2, $3, clock_timestamp(), created_at FROM moved",
    )
    .bind(uuid(&deal["id"]))
    .bind(uuid(from))
    .bind(uuid(to))
    .execute(&mut **tx)
    .await
    .unwrap();
}

/// Every event starts where the previous one left the deal, and the last one is where it is.
async fn assert_history_unbroken(app: &TestApp, w: &World, deal: &Value) {
    let h = history(app, w, deal).await;
    for pair in h.windows(2) {
        assert_eq!(pair[1]["from_stage_id"], pair[0]["to_stage_id"], "{h:?}");
    }
    let now: Value =
        app.get(&format!("/api/v1/deals/{}", deal["id"].as_str().unwrap()), &w.owner).await.json().await.unwrap();
    assert_eq!(now["stage_id"], h.last().unwrap()["to_stage_id"], "{h:?}");
}

#[tokio::test]
async fn a_stage_removal_records_only_the_deals_it_moves() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let d = new_deal(&app, &w, json!({"stage_id": stage(&w, 1)})).await;
    let p = format!("/api/v1/pipelines/{}", w.pipeline["id"].as_str().unwrap());
    // Another writer moves the deal out of the stage, and has not committed yet.
    let mut other = app.pool.begin().await.unwrap();
    move_by_hand(&mut other, &d, &stage(&w, 1), &stage(&w, 2)).await;
    let path = format!("{p}/stages/{}?move_to={}", stage(&w, 1).as_str().unwrap(), stage(&w, 3).as_str().unwrap());
    let removal = app.delete(&path, &w.owner);
    let release = async {
        until_waiting(&app, None, 1, "the removal").await;
        other.commit().await.unwrap();
    };
    let (res, ()) = tokio::join!(removal, release);
    assert_eq!(res.status(), 204);
    // The deal was not in the stage when the removal moved its deals: no move of it recorded.
    assert_history_unbroken(&app, &w, &d).await;
    let moved: Value =
        app.get(&format!("/api/v1/deals/{}", d["id"].as_str().unwrap()), &w.owner).await.json().await.unwrap();
    assert_eq!(moved["stage_id"], stage(&w, 2));
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE type = 'deal.stage_changed'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, 0, "no deal.stage_changed event for a move the removal did not make");
}

#[tokio::test]
async fn no_deal_enters_a_stage_while_it_is_removed() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let p = format!("/api/v1/pipelines/{}", w.pipeline["id"].as_str().unwrap());
    let (removed, target) = (stage(&w, 1), stage(&w, 2));
    // The removal waits for a deal of its stage that another writer holds.
    let (held, other) = deal_held_in(&app, &w, &removed).await;
    let mover = new_deal(&app, &w, json!({"stage_id": stage(&w, 0)})).await;
    let path = format!("{p}/stages/{}?move_to={}", removed.as_str().unwrap(), target.as_str().unwrap());
    let removal = app.delete(&path, &w.owner);
    let entering = async {
        until_waiting(&app, None, 1, "the removal").await;
        let path = format!("/api/v1/deals/{}", mover["id"].as_str().unwrap());
        let body = json!({"pipeline_id": w.pipeline["id"], "customer_id": w.customer["id"], "title": "Late", "stage_id": removed});
        tokio::join!(
            app.patch(&path, &w.owner, json!({"stage_id": removed})),
            app.post("/api/v1/deals", &w.owner, body),
            async {
                // Both wait for the stage while it is being removed.
                until_waiting(&app, Some("advisory"), 2, "the move and the creation").await;
                other.commit().await.unwrap();
            }
        )
    };
    let (res, (moved, created, ())) = tokio::join!(removal, entering);
    assert_eq!(res.status(), 204);
    assert_problem(moved, 422, "validation_failed").await;
    assert_problem(created, 422, "validation_failed").await;
    let in_removed: i64 = sqlx::query_scalar("SELECT count(*) FROM deals WHERE stage_id = $1")
        .bind(uuid(&removed))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(in_removed, 0, "no deal is left in the removed stage");
    assert_history_unbroken(&app, &w, &held).await;
    assert_history_unbroken(&app, &w, &mover).await;
}

#[tokio::test]
async fn a_deal_entering_a_stage_as_its_kind_changes_follows_the_new_kind() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let p = format!("/api/v1/pipelines/{}", w.pipeline["id"].as_str().unwrap());
    let changed = stage(&w, 1);
    let (held, other) = deal_held_in(&app, &w, &changed).await;
    let mover = new_deal(&app, &w, json!({"stage_id": stage(&w, 0)})).await;
    let path = format!("{p}/stages/{}", changed.as_str().unwrap());
    let change = app.patch(&path, &w.owner, json!({"kind": "won"}));
    let entering = async {
        until_waiting(&app, None, 1, "the change of kind").await;
        let path = format!("/api/v1/deals/{}", mover["id"].as_str().unwrap());
        let moving = app.patch(&path, &w.owner, json!({"stage_id": changed}));
        let release = async {
            until_waiting(&app, Some("advisory"), 1, "the move").await;
            other.commit().await.unwrap();
        };
        tokio::join!(moving, release).0
    };
    let (res, moved) = tokio::join!(change, entering);
    assert_eq!(res.status(), 200);
    assert_eq!(moved.status(), 200);
    for deal in [&held, &mover] {
        let now: Value =
            app.get(&format!("/api/v1/deals/{}", deal["id"].as_str().unwrap()), &w.owner).await.json().await.unwrap();
        assert_eq!((&now["stage_id"], now["status"].as_str()), (&changed, Some("won")), "{now}");
        assert!(now["closed_at"].is_string(), "{now}");
    }
}

#[tokio::test]
async fn a_removal_records_its_moves_after_the_moves_it_waited_for() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let p = format!("/api/v1/pipelines/{}", w.pipeline["id"].as_str().unwrap());
    let removed = stage(&w, 1);
    let won = w.pipeline["stages"].as_array().unwrap().iter().find(|s| s["kind"] == "won").unwrap()["id"].clone();
    let deal = new_deal(&app, &w, json!({"stage_id": stage(&w, 0)})).await;
    // Another writer is moving the deal into the stage: it holds the stage's lock, shared.
    let mut other = app.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock_shared(rapport_stage_key($1))")
        .bind(uuid(&removed))
        .execute(&mut *other)
        .await
        .unwrap();
    let path = format!("{p}/stages/{}?move_to={}", removed.as_str().unwrap(), won.as_str().unwrap());
    let removal = app.delete(&path, &w.owner);
    let moving = async {
        until_waiting(&app, Some("advisory"), 1, "the removal").await;
        // The move lands after the removal began, and commits before it goes on.
        move_by_hand(&mut other, &deal, &stage(&w, 0), &removed).await;
        other.commit().await.unwrap();
    };
    let (res, ()) = tokio::join!(removal, moving);
    assert_eq!(res.status(), 204);
    assert_history_unbroken(&app, &w, &deal).await;
    let h = history(&app, &w, &deal).await;
    let now: Value =
        app.get(&format!("/api/v1/deals/{}", deal["id"].as_str().unwrap()), &w.owner).await.json().await.unwrap();
    assert_eq!((&now["stage_id"], now["status"].as_str()), (&won, Some("won")));
    assert_eq!(now["closed_at"], h.last().unwrap()["changed_at"], "closed when the move is recorded");
}
