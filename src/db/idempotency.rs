//! Stored responses of POSTs sent with an `Idempotency-Key` (kept 24 h).

use sqlx::{FromRow, PgExecutor};

use crate::domain::WorkspaceId;

/// How long a key holds its response.
pub const KEEP_HOURS: i32 = 24;

/// A response as stored for replay.
#[derive(Debug, Clone, FromRow)]
pub struct Stored {
    pub request_hash: Vec<u8>,
    pub status_code: i32,
    pub response_headers: Option<serde_json::Value>,
    pub response_body: Option<Vec<u8>>,
}

/// The response stored under a key in the last 24 h.
pub async fn find(db: impl PgExecutor<'_>, ws: WorkspaceId, key: &str) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_hash, status_code, response_headers, response_body FROM idempotency_keys
          WHERE workspace_id = $1 AND key = $2 AND created_at >= now() - make_interval(hours => $3)",
    )
    .bind(ws)
    .bind(key)
    .bind(KEEP_HOURS)
    .fetch_optional(db)
    .await
}

/// Stores a response under a key (taking over a key older than 24 h). `Ok(false)`: another
/// request stored one first. Run in the write's own transaction, the response is stored if
/// and only if the write commits; a concurrent request with the same key waits for it.
pub async fn store(db: impl PgExecutor<'_>, ws: WorkspaceId, key: &str, stored: &Stored) -> Result<bool, sqlx::Error> {
    let inserted: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (workspace_id, key, request_hash, status_code, response_headers, response_body)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, status_code = EXCLUDED.status_code,
                response_headers = EXCLUDED.response_headers, response_body = EXCLUDED.response_body,
                created_at = now()
          WHERE idempotency_keys.created_at < now() - make_interval(hours => $7)
         RETURNING true",
    )
    .bind(ws)
    .bind(key)
    .bind(&stored.request_hash)
    .bind(stored.status_code)
    .bind(&stored.response_headers)
    .bind(&stored.response_body)
    .bind(KEEP_HOURS)
    .fetch_optional(db)
    .await?;
    Ok(inserted.is_some())
}

/// Forgets keys older than 24 h.
pub async fn sweep(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)")
        .bind(KEEP_HOURS)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}
