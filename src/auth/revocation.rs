//! What every instance must know at once when a credential loses its power: revoked API tokens,
//! and the current state of every user a token names (deleted, disabled, role, session epoch).
//!
//! Both are kept in memory. A change is announced with NOTIFY (triggers on `api_tokens` and
//! `users`); each instance LISTENs, applies it, and also reloads after a reconnect and every
//! 30 s. A user's state is moreover never trusted for longer than [`USER_STATE_MAX_AGE`], so a
//! change reaches every instance within that bound even if a notification is lost.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::users::{self, AuthState};
use crate::domain::WorkspaceId;

pub const TOKEN_CHANNEL: &str = "rapport_api_token_revoked";
pub const USER_CHANNEL: &str = "rapport_user_changed";

/// How long a user's state read from the database is trusted (the bound on how late an
/// instance can learn of a deletion, a disabling, a role or password change).
pub const USER_STATE_MAX_AGE: Duration = Duration::from_secs(4);

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
        let ids = crate::db::tokens::revoked_api_tokens(pool).await?;
        *self.ids.write().unwrap_or_else(|e| e.into_inner()) = ids.into_iter().collect();
        Ok(())
    }
}

struct Entry {
    /// `None`: no such user (deleted).
    state: Option<AuthState>,
    loaded: Instant,
}

/// The users tokens name, as last read from the database.
#[derive(Default)]
pub struct UserStates {
    entries: RwLock<HashMap<Uuid, Entry>>,
    /// Moves on every invalidation: a read that raced with one is not cached.
    generation: AtomicU64,
}

impl UserStates {
    /// The user's current state (`None` when the user no longer exists).
    pub async fn get(&self, pool: &PgPool, ws: WorkspaceId, user_id: Uuid) -> Result<Option<AuthState>, sqlx::Error> {
        {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = entries.get(&user_id) {
                if e.loaded.elapsed() < USER_STATE_MAX_AGE {
                    return Ok(e.state.clone());
                }
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = Instant::now();
        let state = users::auth_state(pool, ws, user_id).await?;
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) == generation {
            entries.insert(user_id, Entry { state: state.clone(), loaded });
        }
        Ok(state)
    }

    /// Drops what is known of a user: the next request reads it again.
    pub fn forget(&self, user_id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|e| e.into_inner()).remove(&user_id);
    }

    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Runs for the life of the process: applies revocations and user changes announced by any
/// instance.
pub async fn listen(pool: PgPool, revoked: std::sync::Arc<RevokedTokens>, users: std::sync::Arc<UserStates>) {
    loop {
        if let Err(e) = listen_once(&pool, &revoked, &users).await {
            log::warn!("revocation listener: {e}; retrying in 1 s");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(pool: &PgPool, revoked: &RevokedTokens, users: &UserStates) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all([TOKEN_CHANNEL, USER_CHANNEL]).await?;
    revoked.reload(pool).await?;
    users.forget_all();
    let mut reload = tokio::time::interval(Duration::from_secs(30));
    reload.tick().await;
    loop {
        tokio::select! {
            message = listener.try_recv() => match message? {
                Some(n) => {
                    if let Ok(id) = n.payload().parse::<Uuid>() {
                        match n.channel() {
                            TOKEN_CHANNEL => revoked.insert(id),
                            _ => users.forget(id),
                        }
                    }
                }
                // The connection dropped and was re-established: anything announced in
                // between was missed, so read everything again.
                None => {
                    revoked.reload(pool).await?;
                    users.forget_all();
                }
            },
            _ = reload.tick() => revoked.reload(pool).await?,
        }
    }
}
