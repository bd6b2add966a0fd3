//! [`Write`]: the one way a handler changes state. It authenticates the caller with at least the
//! role `R`, opens the transaction the use case runs in, and commits it with the response, which
//! it stores in the same transaction when the request carries an `Idempotency-Key`.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

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

impl<R: MinRole + 'static> FromRequest for Write<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let auth = Auth::<R>::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let claim = req.extensions().get::<IdempotencyClaim>().cloned();
        Box::pin(async move {
            let auth = auth.await?;
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let tx = state.pool.begin().await?;
            Ok(Write { actor: auth.actor(), tx, state, claim, _role: PhantomData })
        })
    }
}

impl<R: MinRole> Write<R> {
    /// Commits the write and answers `response`, stored for replay in the same transaction
    /// when the request has an `Idempotency-Key` (`409` if a concurrent request with the key
    /// committed first: then nothing of this one is kept).
    pub async fn commit(mut self, response: HttpResponse) -> ApiResult<HttpResponse> {
        let Some(claim) = self.claim.take() else {
            self.tx.commit().await?;
            return Ok(response);
        };
        let (head, body) = response.into_parts();
        let bytes =
            actix_web::body::to_bytes(body).await.map_err(|_| ApiError::internal("response body unreadable"))?;
        let stored = claim.stored(head.status(), head.headers(), &bytes);
        if !idempotency::store(&mut *self.tx, claim.workspace_id, &claim.key, &stored).await? {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key completed meanwhile; retry to get its response".into(),
            ));
        }
        self.tx.commit().await?;
        claim.stored.set(true);
        Ok(head.set_body(bytes).map_into_boxed_body())
    }
}
