//! Authentication and authorisation: JWTs, passwords, roles, throttling, revocation, and the
//! `Auth` extractor that gives every handler its principal.

pub mod jwt;
pub mod password;
pub mod revocation;
pub mod roles;
pub mod throttle;

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use uuid::Uuid;

use crate::domain::WorkspaceId;
use crate::error::ApiError;
use crate::state::AppState;
use jwt::TokenKind;
use roles::{MinRole, Role, Viewer};

/// The authenticated principal of a request. `Auth<Admin>` as a handler argument declares
/// that the route needs at least `admin`: a lesser role gets `403` before the handler runs.
pub struct Auth<R: MinRole = Viewer> {
    pub user_id: Uuid,
    pub workspace_id: WorkspaceId,
    pub role: Role,
    pub token_id: Uuid,
    pub kind: TokenKind,
    _role: PhantomData<R>,
}

impl<R: MinRole> std::fmt::Debug for Auth<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("user_id", &self.user_id)
            .field("workspace_id", &self.workspace_id)
            .field("role", &self.role)
            .finish()
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verifies the request's token: signature, claims, and revocation of API tokens.
pub fn authenticate(state: &AppState, req: &HttpRequest) -> Result<jwt::Claims, ApiError> {
    let token =
        bearer_token(req).ok_or_else(|| ApiError::Unauthorized("an Authorization: Bearer token is required".into()))?;
    let claims = state.keys.verify(token).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        ApiError::Unauthorized(
            match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::InvalidIssuer => "the token has the wrong issuer",
                ErrorKind::InvalidAudience => "the token has the wrong audience",
                ErrorKind::InvalidAlgorithm => "the token is signed with an algorithm this server does not accept",
                _ => "the token is invalid",
            }
            .into(),
        )
    })?;
    if claims.kind == TokenKind::Api && state.revoked.contains(&claims.jti) {
        return Err(ApiError::Unauthorized("the token has been revoked".into()));
    }
    Ok(claims)
}

impl<R: MinRole> FromRequest for Auth<R> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready((|| {
            let state =
                req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal("application state missing"))?;
            let claims = authenticate(state, req)?;
            if claims.role < R::ROLE {
                return Err(ApiError::Forbidden(format!(
                    "this action needs the {} role or higher; the token has {}",
                    R::ROLE.as_str(),
                    claims.role.as_str()
                )));
            }
            Ok(Auth {
                user_id: claims.sub,
                workspace_id: WorkspaceId(claims.ws),
                role: claims.role,
                token_id: claims.jti,
                kind: claims.kind,
                _role: PhantomData,
            })
        })())
    }
}
