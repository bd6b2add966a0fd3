use serde_json::{json, Value};

use crate::helpers::*;

pub struct World {
    pub owner: String,
    pub customer: Value,
    pub email: Value,
    pub phone: Value,
}

pub async fn world(app: &TestApp) -> World {
    let owner = app.owner_token().await;
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Ivy"})).await.json().await.unwrap();
    let channels: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    let find = |k: &str| channels["data"].as_array().unwrap().iter().find(|c| c["kind"] == k).unwrap()["id"].clone();
    World { email: find("email"), phone: find("phone"), owner, customer }
}

fn message(w: &World) -> Value {
    json!({"customer_id": w.customer["id"], "channel_id": w.email, "direction": "inbound", "kind": "message",
           "subject": "Hello", "body": "Hi there", "occurred_at": "2024-06-01T12:00:00+02:00", "metadata": {"thread": "t-1"}})
}

async fn count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM interactions").fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn interaction_crud() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let res = app.post("/api/v1/interactions", &w.owner, message(&w)).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let i: Value = res.json().await.unwrap();
    assert_eq!(i["occurred_at"], "2024-06-01T10:00:00Z");
    assert_eq!(i["items"], json!([]));
    assert!(i["value_cents"].is_null());
    assert_eq!(app.get(&location, &w.owner).await.json::<Value>().await.unwrap(), i);

    let res =
        app.patch(&location, &w.owner, json!({"subject": null, "direction": "outbound", "duration_seconds": 90})).await;
    assert_eq!(res.status(), 200);
    let p: Value = res.json().await.unwrap();
    assert!(p["subject"].is_null());
    assert_eq!(p["direction"], "outbound");
    assert_eq!(p["version"], 2);
    assert_problem(app.patch(&location, &w.owner, json!({"external_id": "x"})).await, 422, "validation_failed").await;
    assert_problem(app.patch(&location, &w.owner, json!({"value_cents": 5})).await, 422, "validation_failed").await;
    assert_eq!(app.delete(&location, &w.owner).await.status(), 204);
    assert_problem(app.get(&location, &w.owner).await, 404, "not_found").await;
}

#[tokio::test]
async fn purchase_fields_and_limits() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut purchase = message(&w);
    purchase["kind"] = json!("purchase");
    purchase["value_cents"] = json!(4999);
    purchase["items"] = json!(["sku-a", "sku-b", "sku-a"]);
    let res = app.post("/api/v1/interactions", &w.owner, purchase).await;
    assert_eq!(res.status(), 201);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["items"], json!(["sku-a", "sku-b", "sku-a"]), "repeated items are kept");

    let mut not_purchase = message(&w);
    not_purchase["value_cents"] = json!(10);
    not_purchase["items"] = json!(["x"]);
    let body =
        assert_problem(app.post("/api/v1/interactions", &w.owner, not_purchase).await, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["value_cents", "items"]);

    let mut big = message(&w);
    big["body"] = json!("x".repeat(64 * 1024 + 1));
    let body = assert_problem(app.post("/api/v1/interactions", &w.owner, big).await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "body");
    let mut future = message(&w);
    future["occurred_at"] = json!("2999-01-01T00:00:00Z");
    assert_problem(app.post("/api/v1/interactions", &w.owner, future).await, 422, "validation_failed").await;
    assert_eq!(count(&app).await, 1);
}

#[tokio::test]
async fn external_id_replays_return_the_existing_row() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut m = message(&w);
    m["external_id"] = json!("msg-42");
    let first = app.post("/api/v1/interactions", &w.owner, m.clone()).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    m["subject"] = json!("changed");
    let again = app.post("/api/v1/interactions", &w.owner, m.clone()).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    // Same external id on another channel is another interaction.
    m["channel_id"] = w.phone.clone();
    assert_eq!(app.post("/api/v1/interactions", &w.owner, m).await.status(), 201);
    assert_eq!(count(&app).await, 2);
}

#[tokio::test]
async fn references_must_be_live_and_of_the_workspace() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut m = message(&w);
    m["customer_id"] = json!(uuid::Uuid::now_v7());
    let body = assert_problem(app.post("/api/v1/interactions", &w.owner, m).await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "customer_id");
    let mut m = message(&w);
    m["user_id"] = json!(uuid::Uuid::now_v7());
    let body = assert_problem(app.post("/api/v1/interactions", &w.owner, m).await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "user_id");
    let path = format!("/api/v1/customers/{}", w.customer["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, &w.owner).await.status(), 204);
    let body =
        assert_problem(app.post("/api/v1/interactions", &w.owner, message(&w)).await, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "customer_id", "a soft-deleted customer takes no new interactions");
    assert_eq!(count(&app).await, 0);
}

#[tokio::test]
async fn list_filters_and_order() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let other: Value = app.post("/api/v1/customers", &w.owner, json!({"name": "Oz"})).await.json().await.unwrap();
    let me: Value = app.get("/api/v1/me", &w.owner).await.json().await.unwrap();
    let rows = [
        (&w.customer, &w.email, "inbound", "message", "2024-01-01T00:00:00Z"),
        (&w.customer, &w.phone, "outbound", "call", "2024-01-02T00:00:00Z"),
        (&other, &w.email, "outbound", "message", "2024-01-03T00:00:00Z"),
        (&other, &w.phone, "inbound", "support", "2024-01-04T00:00:00Z"),
    ];
    for (c, ch, dir, kind, at) in rows {
        let body = json!({"customer_id": c["id"], "channel_id": ch, "direction": dir, "kind": kind, "occurred_at": at, "user_id": me["user"]["id"]});
        assert_eq!(app.post("/api/v1/interactions", &w.owner, body).await.status(), 201);
    }
    let days = |v: Value| -> Vec<String> {
        v["data"].as_array().unwrap().iter().map(|i| i["occurred_at"].as_str().unwrap()[..10].to_owned()).collect()
    };
    let get = |q: String| {
        let app = &app;
        let t = w.owner.clone();
        async move {
            let res = app.get(&format!("/api/v1/interactions?{q}"), &t).await;
            assert_eq!(res.status(), 200, "{q}");
            res.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(days(get(String::new()).await), ["2024-01-04", "2024-01-03", "2024-01-02", "2024-01-01"]);
    assert_eq!(days(get("sort=occurred_at".into()).await), ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]);
    assert_eq!(days(get(format!("customer_id={}", other["id"].as_str().unwrap())).await), ["2024-01-04", "2024-01-03"]);
    assert_eq!(days(get(format!("channel_id={}", w.phone.as_str().unwrap())).await), ["2024-01-04", "2024-01-02"]);
    assert_eq!(days(get("kind=message".into()).await), ["2024-01-03", "2024-01-01"]);
    assert_eq!(days(get("direction=outbound".into()).await), ["2024-01-03", "2024-01-02"]);
    assert_eq!(days(get(format!("user_id={}", me["user"]["id"].as_str().unwrap())).await).len(), 4);
    assert_eq!(
        days(get("occurred_after=2024-01-02T00:00:00Z&occurred_before=2024-01-04T00:00:00Z".into()).await),
        ["2024-01-03", "2024-01-02"]
    );
    let page = get("limit=3".into()).await;
    let rest = get(format!("limit=3&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(days(rest), ["2024-01-01"]);
    for bad in [
        "kind=telegram",
        "direction=sideways",
        "sort=subject",
        "customer_id=1",
        "occurred_after=soon",
        "limit=0",
        "foo=bar",
    ] {
        assert_problem(app.get(&format!("/api/v1/interactions?{bad}"), &w.owner).await, 400, "malformed_request").await;
    }
}

#[tokio::test]
async fn batch_is_all_or_nothing() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let mut items: Vec<Value> = (0..5).map(|_| message(&w)).collect();
    items[1]["external_id"] = json!("ext-1");
    let res = app.post("/api/v1/interactions/batch", &w.owner, json!({"items": items})).await;
    assert_eq!(res.status(), 201);
    let ids: Vec<String> = res.json::<Value>().await.unwrap()["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(count(&app).await, 5);
    for id in &ids {
        assert_eq!(app.get(&format!("/api/v1/interactions/{id}"), &w.owner).await.status(), 200);
    }

    // A replayed external id maps to the existing row; bad items fail the whole batch.
    let mut again: Vec<Value> = (0..3).map(|_| message(&w)).collect();
    again[0]["external_id"] = json!("ext-1");
    let res = app.post("/api/v1/interactions/batch", &w.owner, json!({"items": again.clone()})).await;
    assert_eq!(res.status(), 201);
    let got: Value = res.json().await.unwrap();
    assert_eq!(got["ids"][0], ids[1].as_str());
    assert_eq!(count(&app).await, 7);
    // One event per interaction logged, in item order, each with the interaction as GET shows
    // it; the replayed item logged nothing and recorded nothing.
    let logged: Vec<(uuid::Uuid, Value)> =
        sqlx::query_as("SELECT resource_id, data FROM events WHERE type = 'interaction.created' ORDER BY seq")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let expected: Vec<String> = ids
        .iter()
        .cloned()
        .chain(got["ids"].as_array().unwrap()[1..].iter().map(|v| v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(logged.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>(), expected);
    for (id, data) in &logged {
        let shown: Value = app.get(&format!("/api/v1/interactions/{id}"), &w.owner).await.json().await.unwrap();
        assert_eq!(data, &shown);
    }

    again[1]["kind"] = json!("note");
    again[1]["value_cents"] = json!(3);
    again[2]["customer_id"] = json!(uuid::Uuid::now_v7());
    let body = assert_problem(
        app.post("/api/v1/interactions/batch", &w.owner, json!({"items": again})).await,
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["items[1].value_cents", "items[2].customer_id"]);
    assert_eq!(count(&app).await, 7);

    assert_problem(
        app.post("/api/v1/interactions/batch", &w.owner, json!({"items": []})).await,
        422,
        "validation_failed",
    )
    .await;
    let too_many: Vec<Value> = (0..1001).map(|_| message(&w)).collect();
    assert_problem(
        app.post("/api/v1/interactions/batch", &w.owner, json!({"items": too_many})).await,
        422,
        "validation_failed",
    )
    .await;
    let mut typed = vec![message(&w)];
    typed[0]["duration_seconds"] = json!("long");
    let body = assert_problem(
        app.post("/api/v1/interactions/batch", &w.owner, json!({"items": typed})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "items[0].duration_seconds");
    assert_eq!(count(&app).await, 7);
}

#[tokio::test]
async fn idempotency_key_on_interaction_posts() {
    let app = spawn_app().await;
    let w = world(&app).await;
    for _ in 0..3 {
        let res = app
            .client
            .post(app.url("/api/v1/interactions"))
            .bearer_auth(&w.owner)
            .header("idempotency-key", "log-1")
            .json(&message(&w))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    assert_eq!(count(&app).await, 1);
    // Racing with one key: one interaction, one event (the loser's statement and event roll
    // back with its transaction).
    let send = || {
        app.client
            .post(app.url("/api/v1/interactions"))
            .bearer_auth(&w.owner)
            .header("idempotency-key", "log-2")
            .json(&message(&w))
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    let statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    assert!(statuses.contains(&201), "{statuses:?}");
    assert_eq!(count(&app).await, 2, "{statuses:?}");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE type = 'interaction.created'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, 2, "one event per interaction logged: {statuses:?}");
}
