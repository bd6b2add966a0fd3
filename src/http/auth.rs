//! The `Auth` extractor: the verified principal of a request, with the role it acts with now.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::auth::jwt::{self, TokenKind};
use crate::auth::roles::{MinRole, Role, Viewer};
use crate::db::users::AuthState;
use crate::domain::WorkspaceId;
use crate::error::ApiError;
use crate::http::AppState;

/// The authenticated principal of a request. `Auth<Admin>` as a handler argument declares
/// that the route needs at least `admin`: a lesser role gets `403` before the handler runs.
/// `role` is the role the token acts with now (see [`current_role`]), not the one it was
/// issued with.
pub struct Auth<R: MinRole = Viewer> {
    pub user_id: Uuid,
    pub workspace_id: WorkspaceId,
    pub role: Role,
    pub token_id: Uuid,
    pub kind: TokenKind,
    _role: PhantomData<R>,
}

impl<R: MinRole> Auth<R> {
    /// The caller as use cases know it (with the request's id, for the event log).
    pub fn actor(&self) -> crate::app::Actor {
        let request_id = crate::error::REQUEST_ID.try_with(|id| id.clone()).ok();
        crate::app::Actor::from_token(self.workspace_id, self.role, self.kind, self.user_id, self.token_id, request_id)
    }
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

/// The client's address as the login throttle and the rate limit count it: the peer of the
/// connection (a proxy in front must be trusted to pass the client's own by other means), an
/// IPv4 address, or for IPv6 its /64 network (what one subscriber is usually given, so that
/// hopping between its addresses counts as one client).
pub fn client_address(req: &HttpRequest) -> String {
    match req.peer_addr().map(|a| a.ip()) {
        Some(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let network = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{network}/64")
            }
        },
        Some(v4) => v4.to_string(),
        None => "unknown".into(),
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verifies the request's token: signature, claims, and revocation of API tokens. What its
/// user may do now is [`current_role`]'s to say.
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

/// The role a verified token acts with now, from its user's current state: `401` when the
/// user no longer exists, is disabled, or (for an access token) ended its sessions since
/// (password change, disabling). An access token acts with its user's current role; an API
/// token with its own role, capped by its user's current role.
pub fn current_role(claims: &jwt::Claims, user: Option<&AuthState>) -> Result<Role, ApiError> {
    let Some(user) = user else {
        return Err(ApiError::Unauthorized("the token's user no longer exists".into()));
    };
    if user.disabled {
        return Err(ApiError::Unauthorized("the token's user is disabled".into()));
    }
    match claims.kind {
        TokenKind::Access if claims.sep != user.session_epoch => Err(ApiError::Unauthorized(
            "the session has ended (the password changed or the user was disabled); log in again".into(),
        )),
        TokenKind::Access => Ok(user.role),
        TokenKind::Api => Ok(claims.role.min(user.role)),
    }
}

impl<R: MinRole> FromRequest for Auth<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let claims = state.as_ref().map(|s| authenticate(s, req));
        Box::pin(async move {
            let (Some(state), Some(claims)) = (state, claims) else {
                return Err(ApiError::internal("application state missing"));
            };
            let claims = claims?;
            let ws = WorkspaceId(claims.ws);
            let user = state.users.get(&state.pool, ws, claims.sub).await?;
            let role = current_role(&claims, user.as_ref())?;
            if role < R::ROLE {
                return Err(ApiError::Forbidden(format!(
                    "this action needs the {} role or higher; the token has {}",
                    R::ROLE.as_str(),
                    role.as_str()
                )));
            }
            Ok(Auth {
                user_id: claims.sub,
                workspace_id: ws,
                role,
                token_id: claims.jti,
                kind: claims.kind,
                _role: PhantomData,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::client_address;

    #[test]
    fn an_ipv6_client_counts_by_its_64_network() {
        let at =
            |addr: &str| client_address(&TestRequest::default().peer_addr(addr.parse().unwrap()).to_http_request());
        assert_eq!(at("192.0.2.7:4000"), "192.0.2.7");
        assert_eq!(at("[2001:db8:1:2:aaaa::1]:4000"), "2001:db8:1:2::/64");
        assert_eq!(at("[2001:db8:1:2:bbbb::9]:4000"), "2001:db8:1:2::/64");
        assert_eq!(at("[::ffff:192.0.2.7]:4000"), "192.0.2.7");
    }
}
