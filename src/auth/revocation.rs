//! The set of revoked API tokens, kept in memory on every instance. A revocation is announced
//! with NOTIFY (a trigger on `api_tokens`); each instance LISTENs and also reloads the whole
//! set after a reconnect and every 30 s, so a revoked token stops working everywhere within
//! moments.

use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use uuid::Uuid;

pub const CHANNEL: &str = "rapport_api_token_revoked";

#[derive(Default)]
pub struct RevokedTokens {
    ids: RwLock<HashSet<Uuid>>,
}

impl RevokedTokens {
    pub fn contains(&self, id: &Uuid) -> bool {
        self.ids.read().unwrap_or_else(|e| e.into_inner()).contains(id)
    }

    pub fn insert(&self, id: Uuid) {
        self.ids.write().unwrap_or_else(|e| e.into_inner()).insert(id);
    }

    /// Replaces the set with the revoked tokens that have not expired yet.
    pub async fn reload(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM api_tokens
              WHERE revoked_at IS NOT NULL AND (expires_at IS NULL OR expires_at > now())",
        )
        .fetch_all(pool)
        .await?;
        *self.ids.write().unwrap_or_else(|e| e.into_inner()) = ids.into_iter().collect();
        Ok(())
    }
}

/// Runs for the life of the process: applies revocations announced by any instance.
pub async fn listen(pool: PgPool, revoked: std::sync::Arc<RevokedTokens>) {
    loop {
        if let Err(e) = listen_once(&pool, &revoked).await {
            log::warn!("token revocation listener: {e}; retrying in 1 s");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(pool: &PgPool, revoked: &RevokedTokens) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    revoked.reload(pool).await?;
    let mut reload = tokio::time::interval(Duration::from_secs(30));
    reload.tick().await;
    loop {
        tokio::select! {
            message = listener.try_recv() => match message? {
                Some(n) => {
                    if let Ok(id) = n.payload().parse::<Uuid>() {
                        revoked.insert(id);
                    }
                }
                // The connection dropped and was re-established: anything announced in
                // between was missed, so read the whole set again.
                None => revoked.reload(pool).await?,
            },
            _ = reload.tick() => revoked.reload(pool).await?,
        }
    }
}
