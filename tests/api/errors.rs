//! Bad input of every kind actix would otherwise answer in plain text: always problem+json.

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let res = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&owner)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "malformed_request").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": \"a@b.co\", \"password\": \"x\"} trailing")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "malformed_request").await;
}

#[tokio::test]
async fn wrong_shape_is_422_naming_the_field() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let res = app
        .post("/api/v1/users", &owner, json!({"email": 42, "name": "x", "password": "password-1", "role": "member"}))
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "email");
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": "a@b.co", "name": "x", "password": "password-1", "role": "emperor"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "role");
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": "a@b.co", "name": "x", "password": "password-1", "role": "member", "extra": 1}),
        )
        .await;
    assert_problem(res, 422, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": "not-an-email", "name": "x\u{0000}y", "password": "short", "role": "member"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "name", "password"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(count, 1, "nothing was created");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;
    let res = app.client.post(app.url("/api/v1/auth/login")).body("{}").send().await.unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn oversize_body_is_413() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let res = app
        .post(
            "/api/v1/users",
            &owner,
            json!({"email": "a@b.co", "name": huge, "password": "password-1", "role": "member"}),
        )
        .await;
    assert_problem(res, 413, "payload_too_large").await;
    // Streamed without a length: refused once it passes the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..40).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload_too_large").await;
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_405() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    assert_problem(app.get("/api/v1/no-such-thing", &owner).await, 404, "not_found").await;
    assert_problem(app.get("/nowhere", &owner).await, 404, "not_found").await;
    let res = app.delete("/api/v1/me", &owner).await;
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    assert_problem(res, 405, "malformed_request").await;
    let res = app
        .request(reqwest::Method::PUT, "/api/v1/users/0193a0c4-7d1e-7c39-9a51-1f2f0c7e9b11", Some(&owner), None)
        .await;
    assert_eq!(res.headers()["allow"], "GET, HEAD, PATCH, DELETE");
    assert_problem(res, 405, "malformed_request").await;
}

#[tokio::test]
async fn bad_path_and_query_parameters_are_400() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let body = assert_problem(app.get("/api/v1/users/not-a-uuid", &owner).await, 400, "malformed_request").await;
    assert_eq!(body["errors"][0]["field"], "id", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("is not an id: ids are UUIDs"), "{body}");
    // The parameter that is not an id is the one named, not the first.
    let pipeline =
        json_of(app.get("/api/v1/pipelines", &owner).await, 200).await["data"][0]["id"].as_str().unwrap().to_owned();
    let res = app.patch(&format!("/api/v1/pipelines/{pipeline}/stages/stage-1"), &owner, json!({"name": "x"})).await;
    let body = assert_problem(res, 400, "malformed_request").await;
    assert_eq!(body["errors"][0]["field"], "stage_id", "{body}");
    for q in ["limit=0", "limit=100000", "limit=abc", "cursor=forged", "colour=blue"] {
        let res = app.get(&format!("/api/v1/users?{q}"), &owner).await;
        assert_problem(res, 400, "malformed_request").await;
    }
    let res = app.get("/api/v1/users?sort=name", &owner).await;
    let body = assert_problem(res, 400, "malformed_request").await;
    assert_eq!(body["errors"][0]["field"], "sort");
}

#[tokio::test]
async fn request_id_is_echoed_or_made() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health/live")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.client.get(app.url("/health/live")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

/// What a bad request is told is said in the API's words, never the server's parsers': a body
/// shorter than its `Content-Length`, a timestamp or date field chrono cannot read.
#[tokio::test]
async fn answers_name_the_fault_not_the_parser() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let body = r#"{"name": "Half"#;
    let request = format!(
        "POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {owner}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len() + 50
    );
    let answer = raw_exchange(&app, &request).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("the body ended before the length its headers announce"), "{answer}");
    assert!(!answer.contains("EOF") && !answer.contains("None"), "{answer}");

    let customer = json_of(app.get("/api/v1/customers", &owner).await, 200).await;
    assert_eq!(customer["data"].as_array().unwrap().len(), 0, "the cut body landed: {customer}");
    let customer = app.post("/api/v1/customers", &owner, json!({"name": "Whole"})).await;
    let customer = customer.json::<serde_json::Value>().await.unwrap()["id"].clone();
    let channel = json_of(app.get("/api/v1/channels", &owner).await, 200).await["data"][0]["id"].clone();
    use rapport::domain::query::{DATE_EXPECTED, DATE_OR_TIMESTAMP_EXPECTED, NOT_AN_ID};
    use rapport::domain::time::TIMESTAMP_EXPECTED;
    let cases = [
        ("2026-03", DATE_OR_TIMESTAMP_EXPECTED),
        ("2026-03-01T10:00:00", DATE_OR_TIMESTAMP_EXPECTED),
        ("2026-13-01T10:00:00Z", DATE_OR_TIMESTAMP_EXPECTED),
        ("yesterday", DATE_OR_TIMESTAMP_EXPECTED),
        ("2026-03-01T10:00:00Z and more", DATE_OR_TIMESTAMP_EXPECTED),
        // A date where a timestamp goes: the answer says it takes a timestamp.
        ("2026-03-01", TIMESTAMP_EXPECTED),
    ];
    for (at, message) in cases {
        let body = json!({"customer_id": customer, "channel_id": channel, "direction": "inbound",
                          "kind": "note", "occurred_at": at});
        let res = app.post("/api/v1/interactions", &owner, body).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "occurred_at", "{at}: {problem}");
        assert_eq!(problem["errors"][0]["message"], message, "{at}: {problem}");
    }
    // A date field (chrono says the same words for it); a timestamp there is told it takes a date.
    let pipeline = json_of(app.get("/api/v1/pipelines", &owner).await, 200).await["data"][0].clone();
    for (date, message) in [("2026-13-01", DATE_OR_TIMESTAMP_EXPECTED), ("2026-02-03T10:00:00+01:00", DATE_EXPECTED)] {
        let body = json!({"pipeline_id": pipeline["id"], "stage_id": pipeline["stages"][0]["id"],
                          "customer_id": customer, "title": "Date", "expected_close_date": date});
        let problem = assert_problem(app.post("/api/v1/deals", &owner, body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "expected_close_date", "{problem}");
        assert_eq!(problem["errors"][0]["message"], message, "{date}: {problem}");
    }
    // An id that is not one, in a body and in a query.
    let body = json!({"customer_id": "nope", "channel_id": channel, "direction": "inbound", "kind": "note"});
    let problem = assert_problem(app.post("/api/v1/interactions", &owner, body).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "customer_id", "{problem}");
    assert_eq!(problem["errors"][0]["message"], NOT_AN_ID, "{problem}");
    let problem =
        assert_problem(app.get("/api/v1/analytics/funnel?pipeline_id=xyz", &owner).await, 400, "malformed_request")
            .await;
    assert_eq!(problem["errors"][0]["message"], NOT_AN_ID, "{problem}");
    // A JSON body cut short.
    let res = app
        .client
        .post(app.url("/api/v1/interactions"))
        .bearer_auth(&owner)
        .header("content-type", "application/json")
        .body(format!("{{\"customer_id\": \"{}\",", customer.as_str().unwrap()))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(res, 400, "malformed_request").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("the body ends before its JSON value is complete"),
        "{problem}"
    );
}

#[tokio::test]
async fn head_answers_as_get_without_the_body() {
    let app = spawn_app().await;
    let owner = app.owner_token().await;
    let created = app.post("/api/v1/customers", &owner, json!({"name": "Ada"})).await;
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/customers/{id}");
    let get = app.get(&path, &owner).await;
    let get_length = get.bytes().await.unwrap().len();

    let head = app.request(reqwest::Method::HEAD, &path, Some(&owner), None).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], etag.as_str());
    assert_eq!(head.headers()["content-type"], "application/json");
    assert_eq!(head.headers()["content-length"], get_length.to_string().as_str(), "the GET's length");
    assert!(head.headers().contains_key("x-request-id"));
    assert!(head.bytes().await.unwrap().is_empty());
    // The same checks as GET: no token, no resource.
    let head = app.request(reqwest::Method::HEAD, &path, None, None).await;
    assert_eq!(head.status(), 401);
    let head = app.request(reqwest::Method::HEAD, "/api/v1/no-such-thing", Some(&owner), None).await;
    assert_eq!(head.status(), 404);
    // A path without GET: 405, and HEAD is not in its Allow.
    let head = app.request(reqwest::Method::HEAD, "/api/v1/customers/import", Some(&owner), None).await;
    assert_eq!((head.status().as_u16(), head.headers()["allow"].to_str().unwrap()), (405, "POST"));
    // Counted as the HEAD it was.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.contains("method=\"HEAD\"") && l.contains("/api/v1/customers/{id}")),
        "{metrics}"
    );
    // If-None-Match is not answered with 304 (an ETag is the row's version, not the body's).
    let res = app.client.get(app.url(&path)).bearer_auth(&owner).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

/// A deadlock PostgreSQL breaks by cancelling one side is a concurrent change the request met,
/// not a fault: `503`, to send again (with the same Idempotency-Key); never `500`.
#[tokio::test]
async fn a_transaction_cancelled_by_a_deadlock_is_answered_to_send_again() {
    use actix_web::ResponseError;
    let app = spawn_app().await;
    let (mut a, mut b) = (app.pool.begin().await.unwrap(), app.pool.begin().await.unwrap());
    let take = "SELECT pg_advisory_xact_lock($1)";
    sqlx::query(take).bind(1_i64).execute(&mut *a).await.unwrap();
    sqlx::query(take).bind(2_i64).execute(&mut *b).await.unwrap();
    let (x, y) =
        tokio::join!(sqlx::query(take).bind(2_i64).execute(&mut *a), sqlx::query(take).bind(1_i64).execute(&mut *b));
    let cancelled = match (x, y) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("one side is cancelled: {other:?}"),
    };
    assert_eq!(cancelled.as_database_error().and_then(|d| d.code()).as_deref(), Some("40P01"));
    let answer = rapport::error::ApiError::from(cancelled);
    // 503, not a 4xx: an answer that is not stored under the request's Idempotency-Key.
    assert_eq!(answer.status_code(), 503, "{answer}");
    assert!(answer.to_string().contains("send it again"), "{answer}");
}
