//! Values compared as their standards say: canonically equal Unicode strings are one value
//! (NFC on input), codes come from their standard lists (ISO 4217), and a currency change never
//! relabels recorded money.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const COMPOSED: &str = "\u{e9}lodie@exemple.fr";
const DECOMPOSED: &str = "e\u{301}lodie@exemple.fr";

fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn canonically_equal_strings_are_one_value() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let res = app
        .post(
            "/api/v1/customers",
            &owner,
            json!({"name": "E\u{301}lodie Cafe\u{301}", "email": COMPOSED, "tags": ["cafe\u{301}", "caf\u{e9}"],
                   "attributes": {"re\u{301}gion": "Ile-de-France\u{301}"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["name"], "\u{c9}lodie Caf\u{e9}", "stored in NFC");
    assert_eq!(created["tags"], json!(["caf\u{e9}"]), "one tag, not two");
    assert_eq!(created["attributes"], json!({"r\u{e9}gion": "Ile-de-Franc\u{e9}"}));
    // The decomposed spelling of the same email is the same email.
    let dup = app.post("/api/v1/customers", &owner, json!({"name": "Other", "email": DECOMPOSED})).await;
    assert_problem(dup, 409, "conflict").await;
    // Filters and search find it whichever way they are spelled.
    for path in [
        format!("/api/v1/customers?email={}", q(DECOMPOSED)),
        format!("/api/v1/customers?tag={}", q("cafe\u{301}")),
        format!("/api/v1/customers?q={}", q("E\u{301}lodie")),
        format!("/api/v1/customers?attr.{}={}", q("re\u{301}gion"), q("Ile-de-France\u{301}")),
    ] {
        let page: Value = app.get(&path, &owner).await.json().await.unwrap();
        assert_eq!(page["data"].as_array().map(Vec::len), Some(1), "{path}: {page}");
    }
    let segments: Value = app
        .get(&format!("/api/v1/analytics/segments?dimension=attr.{}", q("re\u{301}gion")), &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(segments["groups"][0]["key"], "Ile-de-Franc\u{e9}", "{segments}");
    // An import in the other form updates the customer instead of adding one.
    let report: Value = app
        .client
        .post(app.url("/api/v1/customers/import"))
        .bearer_auth(&owner)
        .header("content-type", "text/csv")
        .body(format!("name,email\nElodie Updated,{DECOMPOSED}\n"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((report["created"].as_u64(), report["updated"].as_u64()), (Some(0), Some(1)), "{report}");

    // Users: one account per email whichever way it is written, and login finds it.
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": DECOMPOSED, "name": "E", "password": "password-123", "role": "viewer"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": COMPOSED, "name": "E2", "password": "password-123", "role": "viewer"}),
        )
        .await;
    assert_problem(res, 409, "conflict").await;
    assert_eq!(app.login(COMPOSED, "password-123").await.status(), 200);
    assert_eq!(app.login(DECOMPOSED, "password-123").await.status(), 200);
    let stored: Vec<String> = sqlx::query_scalar("SELECT email FROM users WHERE email NOT LIKE '%@rapport.test'")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, [COMPOSED]);
}

#[tokio::test]
async fn currencies_come_from_iso_4217() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    for bad in ["QQQ", "XYZ", "EURO", "eur", "US$"] {
        let body = assert_problem(
            app.patch("/api/v1/workspace", &owner, json!({"currency": bad})).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "currency", "{bad}");
        let res = app
            .request(
                Method::POST,
                "/api/v1/workspaces",
                None,
                Some(json!({"workspace_name": "Q", "currency": bad, "email": "q@rapport.test", "password": "password-123", "name": "Q"})),
            )
            .await;
        assert_problem(res, 422, "validation_failed").await;
    }
    for good in ["JPY", "BRL", "CHF", "EUR"] {
        assert_eq!(app.patch("/api/v1/workspace", &owner, json!({"currency": good})).await.status(), 200, "{good}");
    }
    let workspaces: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces").fetch_one(&app.pool).await.unwrap();
    assert_eq!(workspaces, 1);
}

#[tokio::test]
async fn a_currency_change_never_relabels_recorded_money() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let customer: Value = app.post("/api/v1/customers", &owner, json!({"name": "Payer"})).await.json().await.unwrap();
    let pipelines: Value = app.get("/api/v1/pipelines", &owner).await.json().await.unwrap();
    let channels: Value = app.get("/api/v1/channels", &owner).await.json().await.unwrap();
    // Amounts of zero mean the same in every currency: a change is allowed.
    let deal: Value = app
        .post(
            "/api/v1/deals",
            &owner,
            json!({"pipeline_id": pipelines["data"][0]["id"], "customer_id": customer["id"], "title": "Free", "amount_cents": 0}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(app.patch("/api/v1/workspace", &owner, json!({"currency": "USD"})).await.status(), 200);
    // A deal's amount, then a purchase's value: each refuses the change, and nothing changes.
    let deal_path = format!("/api/v1/deals/{}", deal["id"].as_str().unwrap());
    assert_eq!(app.patch(&deal_path, &owner, json!({"amount_cents": 1000})).await.status(), 200);
    let body =
        assert_problem(app.patch("/api/v1/workspace", &owner, json!({"currency": "JPY"})).await, 409, "conflict").await;
    assert!(body["detail"].as_str().unwrap().contains("USD"), "{body}");
    assert_eq!(app.patch(&deal_path, &owner, json!({"amount_cents": 0})).await.status(), 200);
    let purchase = app
        .post(
            "/api/v1/interactions",
            &owner,
            json!({"customer_id": customer["id"], "channel_id": channels["data"][0]["id"], "direction": "inbound",
                   "kind": "purchase", "value_cents": 1}),
        )
        .await;
    assert_eq!(purchase.status(), 201);
    assert_problem(
        app.patch("/api/v1/workspace", &owner, json!({"currency": "JPY", "name": "Renamed"})).await,
        409,
        "conflict",
    )
    .await;
    let ws: Value = app.get("/api/v1/workspace", &owner).await.json().await.unwrap();
    assert_eq!((ws["currency"].as_str(), ws["name"].as_str()), (Some("USD"), Some("Rapport")), "{ws}");
    // The same currency again, or another field, is no change of currency.
    assert_eq!(
        app.patch("/api/v1/workspace", &owner, json!({"currency": "USD", "name": "Renamed"})).await.status(),
        200
    );
}
