//! A client that sends its body slowly, or never ends it, holds no database connection: others
//! are served meanwhile.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::*;

#[tokio::test]
async fn unfinished_bodies_do_not_hold_the_pool() {
    let app = spawn_app().await; // a pool of 8 connections
    let owner = app.owner_token().await;
    let created = json_of(app.post("/api/v1/customers", &owner, json!({"name": "Ada"})).await, 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    // Twelve writes whose bodies never end: more than the pool has connections.
    let mut stalled = Vec::new();
    for _ in 0..12 {
        let mut s = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}")).await.unwrap();
        let head = format!(
            "POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {owner}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\": \"Sl"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        stalled.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let res = app.get(&format!("/api/v1/customers/{id}"), &owner).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(2), "a read waited {:?}", started.elapsed());
        let res = app.post("/api/v1/customers", &owner, json!({"name": "Grace"})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    drop(stalled);
}

/// A client that stops reading a large export gives its heavy permit back after
/// `RAPPORT_HEAVY_IDLE_SECS` without reading: with one permit, an analytics request waits for
/// it, then is answered (kept by the stalled reader, the permit would make it wait 30 s and get
/// `503`).
#[tokio::test]
async fn an_unread_export_gives_its_permit_back() {
    use tokio::io::AsyncReadExt;
    let app = spawn_app_with(|v| {
        v.insert("RAPPORT_HEAVY_CONCURRENCY".into(), "1".into());
        v.insert("RAPPORT_HEAVY_IDLE_SECS".into(), "2".into());
    })
    .await;
    let owner = app.owner_token().await;
    let me = json_of(app.get("/api/v1/me", &owner).await, 200).await;
    let ws: uuid::Uuid = me["workspace"]["id"].as_str().unwrap().parse().unwrap();
    // An export of some 30 MB: far more than the two sockets buffer.
    sqlx::query(
        "INSERT INTO customers (workspace_id, id, kind, name)
         SELECT $1, gen_random_uuid(), 'person', 'Customer ' || n || ' ' || repeat('x', 180) FROM generate_series(1, 150000) n",
    )
    .bind(ws)
    .execute(&app.pool)
    .await
    .unwrap();
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut reader = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    let request = format!("GET /api/v1/customers/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {owner}\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut reader, request.as_bytes()).await.unwrap();
    let mut head = [0u8; 1024];
    let n = reader.read(&mut head).await.unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"), "the export started");
    // The reader stops reading here; the export holds the only permit until the lease ends.
    let started = Instant::now();
    let res = app.get("/api/v1/analytics/rfm", &owner).await;
    let waited = started.elapsed();
    assert_eq!(res.status(), StatusCode::OK, "after {waited:?}");
    assert!(waited >= Duration::from_millis(1000), "the analytics request did not wait for the permit: {waited:?}");
    assert!(waited < Duration::from_secs(15), "{waited:?}");
    drop(reader);
}
