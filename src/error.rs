//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served; set by the request-id middleware so that every
    /// problem document can carry it.
    pub static REQUEST_ID: String;
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// Where the value is: a body path (`tags[3]`), a query parameter or a header.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:rapport:problem:validation_failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "One or more fields are invalid.",
    "code": "validation_failed",
    "errors": [{"field": "email", "message": "is not a valid email address"}],
    "request_id": "0193a0c4-7d1e-7c39-9a51-1f2f0c7e9b11"
}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine word, one of [`PROBLEM_CODES`]; clients branch on it, not on `title`.
    #[schema(schema_with = problem_code)]
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Every `code` a problem carries (API.md), in the order of the statuses they answer.
pub const PROBLEM_CODES: [&str; 12] = [
    "malformed_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "precondition_failed",
    "payload_too_large",
    "unsupported_media_type",
    "validation_failed",
    "rate_limited",
    "internal",
    "unavailable",
];

fn problem_code() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(PROBLEM_CODES))
        .description(Some("Stable machine word: clients branch on it, not on `title`."))
        .build()
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    Malformed { detail: String, errors: Vec<FieldError> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<String> },
    #[error("{0}")]
    Conflict(String),
    #[error("the resource has changed (If-Match does not match version {current})")]
    PreconditionFailed { current: i64 },
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// A failure of ours: logged with its whole cause chain, never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        ApiError::Malformed { detail: detail.into(), errors: Vec::new() }
    }

    /// `400` naming every bad parameter.
    pub fn malformed_fields(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        ApiError::Malformed { detail, errors }
    }

    pub fn malformed_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let f = FieldError::new(field, message);
        ApiError::Malformed { detail: format!("{}: {}", f.field, f.message), errors: vec![f] }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(InternalError::Other(message.into()))
    }

    /// A problem for an error that only has a status (errors from outside our handlers).
    pub fn from_status(status: StatusCode, detail: String) -> Self {
        match status.as_u16() {
            401 => ApiError::Unauthorized(detail),
            403 => ApiError::Forbidden(detail),
            404 => ApiError::NotFound(detail),
            409 => ApiError::Conflict(detail),
            413 => ApiError::PayloadTooLarge { limit: 0 },
            415 => ApiError::UnsupportedMediaType(detail),
            422 => ApiError::validation("body", detail),
            429 => ApiError::RateLimited { retry_after: 1 },
            503 => ApiError::Unavailable(detail),
            400..=499 => ApiError::malformed(detail),
            _ => ApiError::internal(detail),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::Malformed { .. } => "malformed_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            // The contract's codes have no word of their own for 405: the request is malformed.
            ApiError::MethodNotAllowed { .. } => "malformed_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed { .. } => "precondition_failed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) | ApiError::NotAcceptable(_) => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "Validation failed",
            ApiError::Malformed { .. } => "Malformed request",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound(_) => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::Conflict(_) => "Conflict",
            ApiError::PreconditionFailed { .. } => "Precondition failed",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::NotAcceptable(_) => "Not acceptable",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::Internal(_) => "Internal error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Validation(errors) if errors.len() == 1 => {
                format!("{}: {}", errors[0].field, errors[0].message)
            }
            ApiError::Validation(_) => "One or more fields are invalid.".into(),
            ApiError::MethodNotAllowed { allow } => {
                format!("This resource supports {}.", allow.join(", "))
            }
            ApiError::Internal(_) => "An unexpected error occurred; it has been logged.".into(),
            other => other.to_string(),
        }
    }

    pub fn problem(&self) -> Problem {
        let code = self.code();
        let errors = match self {
            ApiError::Validation(errors) => Some(errors.clone()),
            ApiError::Malformed { errors, .. } if !errors.is_empty() => Some(errors.clone()),
            _ => None,
        };
        Problem {
            type_: format!("urn:rapport:problem:{code}"),
            title: self.title().into(),
            status: self.status_code().as_u16(),
            detail: self.detail(),
            code: code.into(),
            errors,
            request_id: REQUEST_ID.try_with(|id| id.clone()).ok(),
        }
    }
}

/// What an interaction's `case_id` naming another customer's case (or no case) is told, by the
/// foreign key below and by the checks of a batch's items.
pub const NOT_THE_CUSTOMERS_CASE: &str = "is not a case of this interaction's customer";

/// Constraints whose violation is the request's fault, by name (as the migrations name them),
/// and what the client is told: the one place a database refusal becomes a problem.
const CONSTRAINTS: &[(&str, Option<&str>, &str)] = &[
    ("customers_email_key", None, "a customer with this email already exists"),
    ("users_workspace_email_key", None, "a user with this email already exists in the workspace"),
    ("interactions_external_key", None, "the channel already has an interaction with this external_id"),
    ("customers_workspace_id_owner_id_fkey", Some("owner_id"), "is not a user of this workspace"),
    ("deals_workspace_id_owner_id_fkey", Some("owner_id"), "is not a user of this workspace"),
    ("interactions_workspace_id_user_id_fkey", Some("user_id"), "is not a user of this workspace"),
    ("interactions_case_fkey", Some("case_id"), NOT_THE_CUSTOMERS_CASE),
];

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(name) = e.as_database_error().and_then(|db| db.constraint()) {
            match CONSTRAINTS.iter().find(|(c, _, _)| *c == name) {
                Some((_, Some(field), message)) => return ApiError::validation(*field, *message),
                Some((_, None, message)) => return ApiError::Conflict((*message).into()),
                None => {}
            }
        }
        if is_unreachable(&e) {
            log::warn!("database unreachable: {}", error_chain(&e));
            return ApiError::Unavailable("the database is not reachable; retry shortly".into());
        }
        // Callers map the constraints they expect to the field at fault; what reaches this point
        // is mapped by kind. Input is validated before it reaches the database, so a data
        // exception (class 22: a number out of range, a date past PostgreSQL's range) is a fault
        // of ours, on a read as on a write, and never blamed on the request.
        if let sqlx::Error::Database(db) = &e {
            match db.code().as_deref() {
                // A row the change refers to was removed meanwhile (a user deleted while their
                // request ran, a customer erased): the request met a concurrent change.
                Some("23503") => {
                    return ApiError::Conflict(
                        "something this change refers to was removed meanwhile; reload and retry".into(),
                    )
                }
                Some("23505") => {
                    return ApiError::Conflict("a row with the same unique values was written meanwhile".into())
                }
                // The transaction was cancelled to break a deadlock, or could not be serialised
                // (class 40): it met a concurrent request, and changed nothing. Sent again, the
                // same request goes through: a 5xx with Retry-After, which the idempotency layer
                // does not keep under the request's key (a 4xx would be replayed).
                Some("40P01") | Some("40001") => {
                    log::warn!("transaction cancelled by a concurrent one: {}", error_chain(&e));
                    return ApiError::Unavailable(
                        "the request met a concurrent change and was cancelled, changing nothing; send it again".into(),
                    );
                }
                // A statement cancelled by its time limit (`statement_timeout`).
                Some("57014") => {
                    return ApiError::Unavailable("the statement ran past its time limit and was cancelled".into())
                }
                // Text PostgreSQL cannot hold (a NUL character) can only come from the request.
                Some("22021") | Some("22P05") => {
                    return ApiError::malformed("a text value holds a character that cannot be stored (NUL)")
                }
                _ => {}
            }
        }
        ApiError::Internal(InternalError::Database(e))
    }
}

/// Whether `e` says the database could not be reached or went away (a restart, a failover, a
/// connection cut, every connection busy past the pool's acquire timeout), not that the
/// statement was wrong: the request may be retried, and gets `503` with `Retry-After`. SQLSTATE
/// classes 08 (connection exception) and 57P (operator intervention: shutdown, crash, starting
/// up), and 53300 (too many connections).
pub fn is_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300")
        }
        _ => false,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            log::error!("internal error: {}", error_chain(e));
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::Unauthorized(_) => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"rapport\", error=\"invalid_token\""));
            }
            ApiError::MethodNotAllowed { allow } => {
                res.insert_header((header::ALLOW, allow.join(", ")));
            }
            ApiError::RateLimited { retry_after } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::PreconditionFailed { current } => {
                res.insert_header((header::ETAG, format!("\"{current}\"")));
            }
            _ => {}
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        res.body(body)
    }
}

/// The error and all its sources on one line, for the log.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod problem_code_tests {
    use super::*;

    /// Every kind of error answers with a code of the documented enum.
    #[test]
    fn every_error_has_a_documented_code() {
        let errors = [
            ApiError::validation("f", "m"),
            ApiError::malformed("m"),
            ApiError::Unauthorized("m".into()),
            ApiError::Forbidden("m".into()),
            ApiError::not_found("x"),
            ApiError::MethodNotAllowed { allow: vec![] },
            ApiError::Conflict("m".into()),
            ApiError::PreconditionFailed { current: 1 },
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::UnsupportedMediaType("m".into()),
            ApiError::NotAcceptable("m".into()),
            ApiError::RateLimited { retry_after: 1 },
            ApiError::Unavailable("m".into()),
            ApiError::internal("m"),
        ];
        let codes: std::collections::BTreeSet<&str> = errors.iter().map(ApiError::code).collect();
        assert_eq!(codes, PROBLEM_CODES.into_iter().collect());
    }

    /// A database that cannot be reached is a `503` the client may retry, with `Retry-After`;
    /// a statement the database refuses is not.
    #[test]
    fn an_unreachable_database_is_503_with_retry_after() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()),
        ] {
            let res = ApiError::from(e).error_response();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
        }
        let res = ApiError::from(sqlx::Error::RowNotFound).error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
