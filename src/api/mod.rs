//! The `/api/v1` resources, one module each; `configure` registers them all.

pub mod api_tokens;
pub mod auth;
pub mod operations;
pub mod users;
pub mod workspace;

use utoipa_actix_web::service_config::ServiceConfig;

/// Every route under `/api/v1`, top-down.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::sign_up)
        .service(workspace::get_workspace)
        .service(workspace::patch_workspace)
        .service(users::list_users)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::patch_user)
        .service(users::delete_user)
        .service(api_tokens::list_tokens)
        .service(api_tokens::create_token)
        .service(api_tokens::delete_token);
}

/// Merge-patch helper: a field absent stays, `null` clears, a value sets.
/// `Option<Option<T>>` with `#[serde(default, deserialize_with = "patch::nullable")]`.
pub mod patch {
    use serde::{Deserialize, Deserializer};

    pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
