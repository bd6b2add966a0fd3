//! `POST /customers/import` and `GET /customers/export`: CSV or NDJSON, streamed both ways.
//!
//! The import never holds the file: the body is read chunk by chunk and handed to a blocking
//! thread that parses and validates rows (`parse`), which come back in batches to land
//! (`app::imports`). A row is valid and lands whole, or is rejected whole.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;

use super::parse::{parse, ChannelReader, Format, Message, BATCH, COLUMNS};
use super::query::ListQuery;
use crate::app::imports::ImportReport;
use crate::app::{self};
use crate::auth::roles::Member;
use crate::db::customers::{self, Customer, CustomerSort, Position};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::AppState;

fn mime(value: &str) -> String {
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

crate::http::doc::derived_schema!(
    /// A CSV file whose first line is a header of customer columns.
    CsvImport,
    schema
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(
            r"^(id,)?name(,kind)?(,email)?(,phone)?(,company_name)?(,country)?(,city)?(,tags)?(,attributes)?(,owner_id)?(,created_at)?(\r?\n|$)",
        ))
        .description(Some(
            "CSV whose first line is a header of customer columns (this form lists them once each, in the export's \
             order; the import also takes them in any order, in any case, and attr.<key> columns).",
        ))
        .into()
);

crate::http::doc::derived_schema!(
    /// Lines of JSON objects, one customer each.
    NdjsonImport,
    schema
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(r"^[ \t\r\n]*\{"))
        .description(Some("One JSON object per line (the fields of CustomerInput)."))
        .into()
);

/// How long an import's upload may go without a byte before it is given up (`400`).
pub const UPLOAD_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Import customers from CSV or NDJSON
///
/// Member. The body is CSV (`text/csv`, with a header) or NDJSON (`application/x-ndjson`; also
/// `application/ndjson`, `application/jsonl`); another type is `415`. A row with an `id`
/// updates that customer (so an export, edited, imports back); a row without one updates the
/// live customer with its email, or else creates a customer. Cells left empty keep the current
/// value. Streamed: files of any size. Valid rows land; a rejected row never half-lands.
/// Answers `200` with the counts (created, updated, rejected) and the first 100 row errors.
///
/// An upload cut short (the connection lost before the body's end) or stalled (no byte for
/// 60 s) is a `400`, and its last, incomplete rows never land; rows of it may have landed
/// before, in batches of 1,000 (import the file again: see below).
///
/// `Idempotency-Key` does not apply to an import: importing a file again updates the rows with
/// an `id` or an `email`, and creates the others again.
///
/// CSV columns: id, kind, name (required without id), email, phone, company_name, country,
/// city, tags (`a;b` or a JSON array), attributes (a JSON object), owner_id, created_at, and
/// `attr.<key>` for one custom field each. Header names are matched as people write them (any
/// case, surrounding spaces, a UTF-8 byte-order mark, with or without spaces, hyphens or
/// underscores between words: `Company Name`, `E-mail`). An unknown or repeated column refuses the file (`400`, nothing lands);
/// `updated_at` and `version` (from an export) are ignored and listed in `ignored_columns`.
/// Cells the export protected from spreadsheets (a leading `'` before `=`, `+`, `-`, `@`, TAB,
/// CR or `'`) are read back without it. NDJSON lines are objects with the same field names.
#[utoipa::path(
    tag = "customers",
    request_body(content(
        (CsvImport = "text/csv", example = "name,email,country,tags\nAda Lovelace,ada@example.com,GB,vip;math\n"),
        (NdjsonImport = "application/x-ndjson", example = "{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\"}\n")
    )),
    responses((status = 200, description = "What landed", body = ImportReport), E400, E401, E403, E415),
    extensions(("x-events" = json!(["customer.created"])))
)]
#[post("/customers/import")]
pub async fn import_customers(
    state: web::Data<AppState>,
    auth: Auth<Member>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(mime).unwrap_or_default();
    let format = match content_type.as_str() {
        "text/csv" => Format::Csv,
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Format::Ndjson,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "an import is text/csv or application/x-ndjson, not {other:?}"
            )))
        }
    };
    let actor = auth.actor();
    let (bytes_tx, bytes_rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<Message>(2);
    // The body is read on this worker (the payload cannot leave it) while rows land. An upload
    // cut short, or stalled, ends in an error the parser stops at: never in an end of file,
    // which would land its last, truncated row.
    actix_web::rt::spawn(async move {
        loop {
            let chunk = match tokio::time::timeout(UPLOAD_IDLE, payload.next()).await {
                Ok(None) => break,
                Ok(Some(Ok(chunk))) => Ok(chunk),
                Ok(Some(Err(e))) => {
                    Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, crate::http::extract::unread_body(&e)))
                }
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no byte arrived for {} s", UPLOAD_IDLE.as_secs()),
                )),
            };
            let failed = chunk.is_err();
            if bytes_tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    let parser = tokio::task::spawn_blocking(move || parse(format, ChannelReader::new(bytes_rx), rows_tx));
    let mut report = ImportReport::default();
    while let Some(message) = rows_rx.recv().await {
        match message {
            Message::Fatal(e) => return Err(e),
            Message::IgnoredColumns(columns) => report.ignored_columns = columns,
            Message::Rows(rows) => {
                let mut valid = Vec::with_capacity(rows.len());
                for (line, row) in rows {
                    match row {
                        Ok(r) => valid.push((line, r)),
                        Err(errors) => report.reject(line, errors),
                    }
                }
                app::imports::land(&state.pool, &actor, valid, &mut report).await?;
            }
        }
    }
    parser.await.map_err(|e| ApiError::internal(format!("import parser: {e}")))?;
    Ok(HttpResponse::Ok().json(report))
}

/// Export customers
///
/// Every customer matching the list's filters (`q`, `email`, `tag`, `country`, `owner_id`,
/// `created_after`, `created_before`, `attr[<key>]`; soft-deleted ones are left out), oldest
/// first, streamed whole: not paginated, and `sort`, `limit` or `cursor` is `400`.
/// `Accept: text/csv` (the default) or `application/x-ndjson`; neither acceptable is `406`.
/// Any role (viewer).
///
/// In the CSV, a cell a spreadsheet would run as a formula (one beginning with `=`, `+`, `-`,
/// `@`, TAB or CR), or one beginning with `'`, is written with a `'` before it (OWASP's advice
/// against CSV injection); the import reads such cells back without it, so an export imports
/// as it was.
#[utoipa::path(
    tag = "customers",
    params(crate::api::customers::CustomerFilterParams),
    responses(
        (status = 200, description = "The customers", content(
            (String = "text/csv"),
            (String = "application/x-ndjson")
        )),
        E400, E401, (status = 406, description = "Neither CSV nor NDJSON is acceptable", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/customers/export")]
pub async fn export_customers(state: web::Data<AppState>, auth: Auth, req: HttpRequest) -> ApiResult<HttpResponse> {
    let format = match crate::http::negotiate(&req, &["text/csv", "application/x-ndjson"])? {
        "application/x-ndjson" => Format::Ndjson,
        _ => Format::Csv,
    };
    let query = ListQuery::parse(req.query_string(), false)?;
    if query.sort.is_some() {
        return Err(ApiError::malformed_field("sort", "the export is always oldest first"));
    }
    let ws = auth.workspace_id;
    let filter = query.filter.resolve(&state.pool, &auth.actor()).await?;
    let start = (state.clone(), Some(None::<Position>), true);
    let body = futures_util::stream::unfold(start, move |(state, after, first)| {
        let filter = filter.clone();
        async move {
            let after = after?;
            let rows =
                customers::list(&state.pool, ws, &filter, Some(CustomerSort::CreatedAt), after, BATCH as i64).await;
            let rows = match rows {
                Ok(r) => r,
                Err(e) => {
                    log::error!("export of workspace {ws} stopped: {e}");
                    return Some((Err(std::io::Error::other("export failed")), (state, None, false)));
                }
            };
            let next = if rows.len() == BATCH { rows.last().map(|(_, p)| Some(p.clone())) } else { None };
            let customers: Vec<Customer> = rows.into_iter().map(|(c, _)| c).collect();
            if customers.is_empty() && !first {
                return None;
            }
            let chunk = match format {
                Format::Csv => csv_chunk(&customers, first),
                Format::Ndjson => ndjson_chunk(&customers),
            };
            Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), (state, next, false)))
        }
    });
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Ndjson => "application/x-ndjson",
    };
    Ok(HttpResponse::Ok().content_type(content_type).streaming(body))
}

/// Rows of the CSV export; every cell protected from spreadsheets (`http::csv_cells`).
fn csv_chunk(rows: &[Customer], header: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(rows.len() * 200));
    if header {
        let _ = w.write_record(COLUMNS);
    }
    for c in rows {
        let cells = [
            c.id.to_string(),
            c.kind.as_str().to_owned(),
            c.name.clone(),
            c.email.clone().unwrap_or_default(),
            c.phone.clone().unwrap_or_default(),
            c.company_name.clone().unwrap_or_default(),
            c.country.clone().unwrap_or_default(),
            c.city.clone().unwrap_or_default(),
            serde_json::to_string(&c.tags).unwrap_or_default(),
            c.attributes.to_string(),
            c.owner_id.map(|o| o.to_string()).unwrap_or_default(),
            c.created_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            c.updated_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            c.version.to_string(),
        ];
        let _ = w.write_record(cells.iter().map(|cell| crate::http::csv_cells::escape(cell).into_owned()));
    }
    w.into_inner().unwrap_or_default()
}

fn ndjson_chunk(rows: &[Customer]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 300);
    for c in rows {
        if serde_json::to_writer(&mut out, c).is_ok() {
            out.push(b'\n');
        }
    }
    out
}
