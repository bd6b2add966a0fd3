//! Authentication and authorisation: JWTs, passwords, roles, throttling, revocation. The
//! extractor that gives every handler its principal is `http::auth::Auth`.

pub mod jwt;
pub mod password;
pub mod revocation;
pub mod roles;
pub mod throttle;
