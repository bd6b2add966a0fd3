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

/// `POST <path>`: a new resource from the body (`Input::parse` → the use case's command),
/// `201` with `Location` and `ETag`. `create` is the use case `(tx, &Actor, command) -> Result<T>`.
#[macro_export]
macro_rules! create_handler {
    ($(#[$doc:meta])* $name:ident, role = $role:ty, tag = $tag:literal, path = $path:literal, request = $request:ident,
     body = $body:ident, events = [$($event:literal),*], create = $create:path, errors = [$($error:ident),*]) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params($crate::http::idempotency::IdempotencyKey),
            request_body = $request,
            responses(
                (status = 201, description = "Created", body = $body, headers(("Location" = String), ("ETag" = String))),
                $($error),*
            ),
            extensions(("x-events" = json!([$($event),*])))
        )]
        #[post($path)]
        pub async fn $name(
            mut w: $crate::http::write::Write<$role>,
            $crate::http::extract::Json(body): $crate::http::extract::Json<$request>,
        ) -> $crate::error::ApiResult<actix_web::HttpResponse> {
            let created = $create(&mut w.tx, &w.actor, body.parse()?).await?;
            w.commit($crate::http::created_resource(&created)).await
        }
    };
}

/// `PATCH <path>` (`{id}` in it, `If-Match` honoured): a JSON merge patch (RFC 7396) of the
/// resource's writable fields, read by `patched(current, body)`; `200` with the resource.
/// `update` is the use case `(tx, &Actor, id, expected version, change) -> Result<T>`.
#[macro_export]
macro_rules! patch_handler {
    ($(#[$doc:meta])* $name:ident, role = $role:ty, tag = $tag:literal, path = $path:literal, id = $id:literal,
     patch = $schema:ident, body = $body:ident, events = [$($event:literal),*], update = $update:path,
     patched = $patched:path, errors = [$($error:ident),*]) => {
        $(#[$doc])*
        #[utoipa::path(
            tag = $tag,
            params(
                ("id" = uuid::Uuid, Path, description = $id),
                ("If-Match" = Option<String>, Header, description = "The ETag of the version this change is based on")
            ),
            request_body(content = $schema, content_type = "application/merge-patch+json"),
            responses((status = 200, description = "Changed", body = $body), $($error),*),
            extensions(("x-events" = json!([$($event),*])))
        )]
        #[patch($path)]
        pub async fn $name(
            mut w: $crate::http::write::Write<$role>,
            id: actix_web::web::Path<uuid::Uuid>,
            $crate::http::extract::IfMatch(expected): $crate::http::extract::IfMatch,
            $crate::http::extract::Json(body): $crate::http::extract::Json<serde_json::Value>,
        ) -> $crate::error::ApiResult<actix_web::HttpResponse> {
            let changed = $update(&mut w.tx, &w.actor, *id, expected, |current| $patched(current, &body)).await?;
            w.commit($crate::http::ok(&changed)).await
        }
    };
}
