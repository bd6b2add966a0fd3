//! Signing and checking JWTs: HS256 only, fixed `iss` and `aud`, short leeway.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::roles::Role;

/// What a token is for: `access`, a short-lived session token (a login), or `api`, a
/// long-lived API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Api,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub ws: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    pub kind: TokenKind,
    /// The user's session epoch when an access token was issued (see `users.session_epoch`);
    /// API tokens carry 0 and do not depend on it.
    #[serde(default)]
    pub sep: i32,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

/// Leeway on `exp`, in seconds (the contract allows at most 60).
pub const LEEWAY_SECS: u64 = 30;

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn sign(&self, sub: Uuid, ws: Uuid, role: Role, jti: Uuid, kind: TokenKind, exp: i64, sep: i32) -> String {
        let claims = Claims {
            sub,
            ws,
            role,
            iat: chrono::Utc::now().timestamp(),
            exp,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti,
            kind,
            sep,
        };
        // Encoding an in-memory struct with an HMAC key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// Checks signature, algorithm, `iss`, `aud` and `exp`; `alg: none` and every other
    /// algorithm are refused.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims)
    }
}
