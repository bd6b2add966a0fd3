//! Accepted data is always reportable: sums of amounts, each within its documented range
//! (0 to 10^15), are exact at any size (past 2^63 here), in every analytics figure, in the 360°
//! summary and in the stored rollup; a valid write is never refused because of a derived figure;
//! and a failure on a read is never blamed on a request body.

use serde_json::{json, Value};

use crate::helpers::*;

const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// The raw text of a 200 answer: big integers checked as written, not through a double.
async fn text_ok(app: &TestApp, token: &str, path: &str) -> String {
    let res = app.get(path, token).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {text}");
    text
}

/// `n` × 10^15 as written in JSON.
fn times_max(n: u32) -> String {
    format!("{n}{}", "0".repeat(15))
}

#[tokio::test]
async fn sums_past_two_to_the_63_are_exact_everywhere() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let ws: String = sqlx::query_scalar("SELECT id::text FROM workspaces").fetch_one(&app.pool).await.unwrap();
    let customer: Value = app
        .post(
            "/api/v1/customers",
            &owner,
            json!({"name": "Whale", "country": "FR", "tags": ["vip"], "attributes": {"plan": "gold"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let cid = customer["id"].as_str().unwrap().to_owned();
    let pipelines: Value = app.get("/api/v1/pipelines", &owner).await.json().await.unwrap();
    let pipeline = pipelines["data"][0]["id"].as_str().unwrap().to_owned();
    let channels: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    let channel = channels["data"][0]["id"].as_str().unwrap().to_owned();

    // 9,300 deals and 9,300 purchases of the largest accepted amount (each row valid, as the
    // API would accept it; loaded in SQL to keep the test quick): sums of 9.3 × 10^18 > 2^63.
    sqlx::query(
        "INSERT INTO deals (workspace_id, id, pipeline_id, stage_id, customer_id, title, amount_cents, status, created_at)
         SELECT $1::uuid, gen_random_uuid(), $2::uuid, s.id, $3::uuid, 'Big ' || g, $4, 'open', now() - interval '1 day'
           FROM generate_series(1, 9300) g,
                (SELECT id FROM stages WHERE pipeline_id = $2::uuid ORDER BY position LIMIT 1) s",
    )
    .bind(&ws)
    .bind(&pipeline)
    .bind(&cid)
    .bind(MAX_AMOUNT)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO deal_stage_events (workspace_id, id, deal_id, to_stage_id, changed_at, deal_created_at)
         SELECT workspace_id, gen_random_uuid(), id, stage_id, created_at, created_at FROM deals",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO interactions (workspace_id, id, customer_id, channel_id, direction, kind, occurred_at, value_cents, items)
         SELECT $1::uuid, gen_random_uuid(), $2::uuid, $3::uuid, 'inbound', 'purchase',
                now() - interval '1 day' - g * interval '1 second', $4, ARRAY['sku-a', 'sku-b']
           FROM generate_series(1, 9000) g",
    )
    .bind(&ws)
    .bind(&cid)
    .bind(&channel)
    .bind(MAX_AMOUNT)
    .execute(&app.pool)
    .await
    .unwrap();

    // The last 300 purchases through the API: the rollup's lifetime value passes 2^63, and the
    // write is accepted.
    let items: Vec<Value> = (0..300)
        .map(|_| {
            json!({"customer_id": cid, "channel_id": channel, "direction": "inbound", "kind": "purchase",
                   "value_cents": MAX_AMOUNT, "occurred_at": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339()})
        })
        .collect();
    let res = app.post("/api/v1/interactions/batch", &owner, json!({"items": items})).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let single = app
        .post(
            "/api/v1/interactions",
            &owner,
            json!({"customer_id": cid, "channel_id": channel, "direction": "inbound", "kind": "note"}),
        )
        .await;
    assert_eq!(single.status(), 201);

    let total = times_max(9300);
    let funnel = text_ok(&app, &owner, &format!("/api/v1/analytics/funnel?pipeline_id={pipeline}")).await;
    assert!(funnel.contains(&format!("\"reached_amount_cents\":{total}")), "{funnel}");
    for dimension in ["country", "kind", "owner", "tag", "channel", "attr.plan"] {
        let segments = text_ok(&app, &owner, &format!("/api/v1/analytics/segments?dimension={dimension}")).await;
        assert!(segments.contains(&format!("\"revenue_cents\":{total}")), "{dimension}: {segments}");
    }
    for bucket in ["day", "week", "month"] {
        let series = text_ok(&app, &owner, &format!("/api/v1/analytics/interactions?bucket={bucket}")).await;
        let points: Value = serde_json::from_str(&series).unwrap();
        let count: u64 =
            points["series"][0]["points"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).sum();
        assert_eq!(count, 9301, "{bucket}");
        // The purchases fall in one or two buckets; their values add up exactly.
        let values: Vec<&str> = series
            .split("\"value_cents\":")
            .skip(1)
            .map(|rest| rest.split([',', '}']).next().unwrap())
            .filter(|v| *v != "0")
            .collect();
        let sum: u128 = values.iter().map(|v| v.parse::<u128>().unwrap()).sum();
        assert_eq!(sum.to_string(), total, "{bucket}: {values:?}");
    }
    let rfm = text_ok(&app, &owner, "/api/v1/analytics/rfm").await;
    assert!(rfm.contains(&format!("\"revenue_cents\":{total}")), "{rfm}");
    let one = text_ok(&app, &owner, &format!("/api/v1/analytics/rfm?customer_id={cid}")).await;
    assert!(one.contains(&format!("\"monetary_cents\":{total}")), "{one}");
    let summary = text_ok(&app, &owner, &format!("/api/v1/customers/{cid}/summary")).await;
    assert!(summary.contains(&format!("\"lifetime_value_cents\":{total}")), "{summary}");
    assert!(summary.contains(&format!("\"monetary_cents\":{total}")), "{summary}");
    let basket = text_ok(&app, &owner, "/api/v1/analytics/basket").await;
    assert!(basket.contains("\"baskets\":9000"), "{basket}");

    let stored: String =
        sqlx::query_scalar("SELECT purchase_value::text FROM customer_activity").fetch_one(&app.pool).await.unwrap();
    assert_eq!(stored, total, "the rollup holds the exact sum");
}

/// A read whose query names an instant PostgreSQL cannot hold, or a write whose date it cannot
/// hold, is the request's fault and said so, naming the parameter: never a problem "with the
/// body" on a GET, never a 500.
#[tokio::test]
async fn out_of_range_instants_are_named_never_blamed_on_a_body() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    for path in [
        "/api/v1/customers?created_after=-200000-01-01T00:00:00Z",
        "/api/v1/customers?created_before=%2B200000-01-01T00:00:00Z",
        "/api/v1/deals?created_after=-200000-01-01T00:00:00Z",
        "/api/v1/interactions?occurred_before=%2B275760-09-13T00:00:00Z",
        "/api/v1/analytics/segments?dimension=country&from=-4714-01-01",
        "/api/v1/customers?attr.%00=x",
        "/api/v1/customers/export?created_after=-9999-01-01",
    ] {
        let body = assert_problem(app.get(path, &owner).await, 400, "malformed_request").await;
        let field = body["errors"][0]["field"].as_str().unwrap_or_default().to_owned();
        assert!(field != "body" && !field.is_empty(), "{path}: {body}");
    }
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Dated"})).await.json().await.unwrap();
    let pipelines: Value = app.get("/api/v1/pipelines", &owner).await.json().await.unwrap();
    for date in ["-100000-01-01", "0000-01-01", "+20000-01-01"] {
        let res = app
            .post(
                "/api/v1/deals",
                &owner,
                json!({"pipeline_id": pipelines["data"][0]["id"], "customer_id": customer["id"], "title": "T",
                       "expected_close_date": date}),
            )
            .await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 422, "{date}: {body}");
        assert_eq!(body["errors"][0]["field"], "expected_close_date", "{date}: {body}");
    }
    let deals: i64 = sqlx::query_scalar("SELECT count(*) FROM deals").fetch_one(&app.pool).await.unwrap();
    assert_eq!(deals, 0);
}
