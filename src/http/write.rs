//! [`Write`]: the one way a handler changes state. It authenticates the caller with at least the
//! role `R`, opens the transaction the use case runs in, and commits it with the response, which
//! it stores in the same transaction when the request carries an `Idempotency-Key`.
//! [`WriteStatement`] is the same for a use case that writes in one statement (atomic by
//! itself): it saves the `BEGIN` and `COMMIT` round trips unless there is a response to store.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use crate::app::{Actor, Tx};
use crate::auth::roles::{Member, MinRole};
use crate::db::idempotency;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::idempotency::IdempotencyClaim;
use crate::http::AppState;

/// A write in progress: the caller (at least role `R`) and its transaction.
pub struct Write<R: MinRole = Member> {
    pub actor: Actor,
    pub tx: Tx<'static>,
    pub state: web::Data<AppState>,
    claim: Option<IdempotencyClaim>,
    _role: PhantomData<R>,
}

/// What both kinds of write read from the request: the caller, the state and the idempotency
/// claim.
fn open<R: MinRole + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl std::future::Future<Output = Result<(Actor, web::Data<AppState>, Option<IdempotencyClaim>), ApiError>> {
    let auth = Auth::<R>::from_request(req, payload);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let claim = req.extensions().get::<IdempotencyClaim>().cloned();
    async move {
        let auth = auth.await?;
        let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
        Ok((auth.actor(), state, claim))
    }
}

/// Commits `tx` with `response`, stored for replay in it when there is a `claim`.
async fn commit(
    mut tx: Tx<'static>,
    claim: Option<IdempotencyClaim>,
    response: HttpResponse,
) -> ApiResult<HttpResponse> {
    let Some(claim) = claim else {
        tx.commit().await?;
        return Ok(response);
    };
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.map_err(|_| ApiError::internal("response body unreadable"))?;
    let stored = claim.stored(head.status(), head.headers(), &bytes);
    if !idempotency::store(&mut *tx, claim.workspace_id, &claim.key, &stored).await? {
        return Err(ApiError::Conflict(
            "a request with this Idempotency-Key completed meanwhile; retry to get its response".into(),
        ));
    }
    tx.commit().await?;
    claim.stored.set(true);
    Ok(head.set_body(bytes).map_into_boxed_body())
}

impl<R: MinRole + 'static> FromRequest for Write<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let open = open::<R>(req, payload);
        Box::pin(async move {
            let (actor, state, claim) = open.await?;
            let tx = state.pool.begin().await?;
            Ok(Write { actor, tx, state, claim, _role: PhantomData })
        })
    }
}

impl<R: MinRole> Write<R> {
    /// Commits the write and answers `response`, stored for replay in the same transaction
    /// when the request has an `Idempotency-Key` (`409` if a concurrent request with the key
    /// committed first: then nothing of this one is kept).
    pub async fn commit(mut self, response: HttpResponse) -> ApiResult<HttpResponse> {
        commit(self.tx, self.claim.take(), response).await
    }
}

/// The connection of a [`WriteStatement`]: the pool's, in autocommit, or a transaction's.
pub enum Conn {
    Autocommit(PoolConnection<Postgres>),
    Transaction(Tx<'static>),
}

impl Deref for Conn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Conn::Autocommit(c) => c,
            Conn::Transaction(t) => t,
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Conn::Autocommit(c) => c,
            Conn::Transaction(t) => t,
        }
    }
}

/// A write of one statement by a caller with at least the role `R`: `conn` is a pooled
/// connection in autocommit, or a transaction when the request has an `Idempotency-Key` (its
/// response is stored with the write).
pub struct WriteStatement<R: MinRole = Member> {
    pub actor: Actor,
    pub conn: Conn,
    claim: Option<IdempotencyClaim>,
    _role: PhantomData<R>,
}

impl<R: MinRole + 'static> FromRequest for WriteStatement<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let open = open::<R>(req, payload);
        Box::pin(async move {
            let (actor, state, claim) = open.await?;
            let conn = match claim {
                Some(_) => Conn::Transaction(state.pool.begin().await?),
                None => Conn::Autocommit(state.pool.acquire().await?),
            };
            Ok(WriteStatement { actor, conn, claim, _role: PhantomData })
        })
    }
}

impl<R: MinRole> WriteStatement<R> {
    /// Answers `response`: as [`Write::commit`] when there is a transaction, else at once (the
    /// statement committed by itself).
    pub async fn commit(self, response: HttpResponse) -> ApiResult<HttpResponse> {
        match self.conn {
            Conn::Autocommit(_) => Ok(response),
            Conn::Transaction(tx) => commit(tx, self.claim, response).await,
        }
    }
}
