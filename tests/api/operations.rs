use crate::helpers::*;

#[tokio::test]
async fn health_and_metrics() {
    let app = spawn_app().await;
    let live = app.client.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("rapport_http_requests_total{method=\"GET\",route=\"/health/ready\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rapport_db_pool_connections{state=\"idle\"}"));
}

#[tokio::test]
async fn not_ready_without_migrations() {
    let app = spawn_app().await;
    sqlx::query("UPDATE _sqlx_migrations SET success = false").execute(&app.pool).await.unwrap();
    let res = app.client.get(app.url("/health/ready")).send().await.unwrap();
    assert_problem(res, 503, "unavailable").await;
}
