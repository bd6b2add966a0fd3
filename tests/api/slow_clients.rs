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
