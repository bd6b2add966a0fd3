//! The handlers every resource has, declared once: one by id, a list oldest first, a removal.
//! Each macro writes the handler with its OpenAPI path (the calling module has
//! `use crate::http::doc::*` in scope for the problem responses, and `actix_web::{get, delete}`:
//! utoipa reads the route from those attributes by name); the use case does the work.

/// `GET <path>` (`{id}` in it): the resource, with its `ETag`. `get` is the use case
/// `(db, &Actor, id) -> Result<T>`.
#[macro_export]
macro_rules! get_handler {
    ($(#[$doc:meta])* $name:ident, tag = $tag:literal, path = $path:literal, id = $id:literal,
     body = $body:ident, described = $described:literal, get = $get:path) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params(("id" = uuid::Uuid, Path, description = $id)),
            responses((status = 200, description = $described, body = $body, headers(("ETag" = String))), E400, E401, E404)
        )]
        #[get($path)]
        pub async fn $name(
            state: actix_web::web::Data<$crate::http::AppState>,
            auth: $crate::http::auth::Auth,
            id: actix_web::web::Path<uuid::Uuid>,
        ) -> $crate::error::ApiResult<actix_web::HttpResponse> {
            Ok($crate::http::ok(&$get(&state.pool, &auth.actor(), *id).await?))
        }
    };
}

/// `GET <path>`: a page of the workspace's resources oldest first (keyset on `created_at`,
/// id). `list` is the use case `(db, &Actor, after, limit) -> Result<Vec<T>>`.
#[macro_export]
macro_rules! list_handler {
    ($(#[$doc:meta])* $name:ident, role = $role:ty, tag = $tag:literal, path = $path:literal, sort = $sort:literal,
     body = $body:ident, described = $described:literal, list = $list:path, errors = [$($error:ident),*]) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params($crate::http::PageParams),
            responses((status = 200, description = $described, body = $crate::http::Page<$body>), $($error),*)
        )]
        #[get($path)]
        pub async fn $name(
            state: actix_web::web::Data<$crate::http::AppState>,
            auth: $crate::http::auth::Auth<$role>,
            $crate::http::extract::Query(page): $crate::http::extract::Query<$crate::http::PageParams>,
        ) -> $crate::error::ApiResult<actix_web::HttpResponse> {
            let keyset = state.cursor_key.keyset(auth.workspace_id, $sort, page.cursor.as_deref(), page.limit)?;
            let rows = $list(&state.pool, &auth.actor(), keyset.after, keyset.fetch()).await?;
            Ok(actix_web::HttpResponse::Ok().json(keyset.page(rows, |r| (r.created_at, r.id))))
        }
    };
}

/// `DELETE <path>` (`{id}` in it, `If-Match` honoured): `204`. `delete` is the use case
/// `(tx, &Actor, id, expected version) -> Result<_>`.
#[macro_export]
macro_rules! delete_handler {
    ($(#[$doc:meta])* $name:ident, role = $role:ty, tag = $tag:literal, path = $path:literal, id = $id:literal,
     events = [$($event:literal),*], delete = $delete:path, errors = [$($error:ident),*]) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params(
                ("id" = uuid::Uuid, Path, description = $id),
                ("If-Match" = Option<String>, Header, description = "The ETag of the version to remove")
            ),
            responses((status = 204, description = "Removed"), $($error),*),
            extensions(("x-events" = json!([$($event),*])))
        )]
        #[delete($path)]
        pub async fn $name(
            mut w: $crate::http::write::Write<$role>,
            id: actix_web::web::Path<uuid::Uuid>,
            $crate::http::extract::IfMatch(expected): $crate::http::extract::IfMatch,
        ) -> $crate::error::ApiResult<actix_web::HttpResponse> {
            $delete(&mut w.tx, &w.actor, *id, expected).await?;
            w.commit(actix_web::HttpResponse::NoContent().finish()).await
        }
    };
}
