//! `POST /customers/import` and `GET /customers/export`: CSV or NDJSON, streamed both ways.
//!
//! The import never holds the file: the body is read chunk by chunk and handed to a blocking
//! thread that parses and validates rows, which come back in batches to be upserted (by email)
//! in one transaction each. A row is valid and lands whole, or is rejected whole.

use std::io::{BufRead, Read};

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::customers::{CustomerInput, ListQuery};
use crate::auth::roles::Member;
use crate::auth::Auth;
use crate::db::customers::{self, Customer, CustomerKind, CustomerSort, ImportRow, Position};
use crate::domain::{Validator, WorkspaceId};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::openapi::*;
use crate::state::AppState;

const BATCH: usize = 1000;
/// What JSON calls whitespace: blank NDJSON lines hold only these.
const NDJSON_SPACE: &[u8] = b" \t\r\n";
const MAX_REPORTED_ERRORS: usize = 100;
/// Columns of the CSV export, in order; the import takes the same (it ignores `id`,
/// `updated_at` and `version`).
const COLUMNS: [&str; 14] = [
    "id",
    "kind",
    "name",
    "email",
    "phone",
    "company_name",
    "country",
    "city",
    "tags",
    "attributes",
    "owner_id",
    "created_at",
    "updated_at",
    "version",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

fn mime(value: &str) -> String {
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

crate::openapi::derived_schema!(
    /// A CSV file whose first line is a header with a `name` column.
    CsvImport,
    schema
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(r"^(?:[^\r\n,\x22]*,)*[ \t]*name[ \t]*(?:,[^\r\n\x22]*)?(?:\r?\n|$)"))
        .description(Some("CSV with a header line that has a name column."))
        .into()
);

crate::openapi::derived_schema!(
    /// Lines of JSON objects, one customer each.
    NdjsonImport,
    schema
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(r"^[ \t\r\n]*\{"))
        .description(Some("One JSON object per line (the fields of CustomerInput)."))
        .into()
);

/// One line of an import, as read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRecord {
    kind: Option<CustomerKind>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company_name: Option<String>,
    country: Option<String>,
    city: Option<String>,
    tags: Option<Vec<String>>,
    attributes: Option<Value>,
    owner_id: Option<Uuid>,
    created_at: Option<DateTime<Utc>>,
    // Columns of the export, accepted and ignored so an export imports as is.
    #[serde(default, rename = "id")]
    _id: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "updated_at")]
    _updated_at: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "version")]
    _version: Option<serde::de::IgnoredAny>,
}

/// A line of the file: a valid row or its errors.
type Parsed = (u64, Result<ImportRow, Vec<FieldError>>);

enum Message {
    /// Columns of the CSV header Rapport does not know: left out, and reported.
    IgnoredColumns(Vec<String>),
    Rows(Vec<Parsed>),
    /// The file cannot be read at all (a bad header): nothing lands.
    Fatal(ApiError),
}

fn validate(record: ImportRecord) -> Result<ImportRow, Vec<FieldError>> {
    let Some(name) = record.name.clone() else {
        return Err(vec![FieldError::new("name", "is required")]);
    };
    let input = CustomerInput {
        kind: record.kind.unwrap_or(CustomerKind::Person),
        name,
        email: record.email,
        phone: record.phone,
        company_name: record.company_name,
        country: record.country,
        city: record.city,
        tags: record.tags.clone().unwrap_or_default(),
        attributes: record.attributes.clone().unwrap_or_else(crate::api::channels::empty_object),
        owner_id: record.owner_id,
        created_at: record.created_at,
    };
    let mut v = Validator::default();
    let fields = input.validate(&mut v, "");
    match fields {
        Some(f) if v.is_empty() => Ok(ImportRow {
            kind: record.kind,
            name: f.name,
            email: f.email,
            phone: f.phone,
            company_name: f.company_name,
            country: f.country,
            city: f.city,
            tags: record.tags.map(|_| f.tags),
            attributes: record.attributes.map(|_| f.attributes),
            owner_id: f.owner_id,
            created_at: record.created_at,
        }),
        _ => Err(v.into_errors()),
    }
}

/// A CSV cell into the record's field: empty cells are absent.
fn csv_cell(record: &mut ImportRecord, column: &str, cell: &str) -> Result<(), FieldError> {
    if cell.is_empty() {
        return Ok(());
    }
    let bad = |m: &str| FieldError::new(column, m);
    match column {
        "kind" => record.kind = Some(cell.parse().map_err(|_| bad("must be person or company"))?),
        "name" => record.name = Some(cell.to_owned()),
        "email" => record.email = Some(cell.to_owned()),
        "phone" => record.phone = Some(cell.to_owned()),
        "company_name" => record.company_name = Some(cell.to_owned()),
        "country" => record.country = Some(cell.to_owned()),
        "city" => record.city = Some(cell.to_owned()),
        "tags" => {
            record.tags = Some(if cell.trim_start().starts_with('[') {
                serde_json::from_str(cell).map_err(|_| bad("must be a JSON array of strings or tags separated by ;"))?
            } else {
                cell.split(';').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()
            })
        }
        "attributes" => record.attributes = Some(serde_json::from_str(cell).map_err(|_| bad("must be a JSON object"))?),
        "owner_id" => record.owner_id = Some(Uuid::try_parse(cell).map_err(|_| bad("must be a UUID"))?),
        "created_at" => {
            record.created_at = Some(
                DateTime::parse_from_rfc3339(cell)
                    .map_err(|_| bad("must be an RFC 3339 timestamp"))?
                    .with_timezone(&Utc),
            )
        }
        _ => {}
    }
    Ok(())
}

/// Reads bytes handed over by the async side, for the blocking parser.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Runs on a blocking thread: parses and validates, sends batches of rows.
fn parse(format: Format, reader: ChannelReader, tx: tokio::sync::mpsc::Sender<Message>) {
    let mut batch: Vec<Parsed> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<Parsed>| tx.blocking_send(Message::Rows(std::mem::take(batch))).is_ok();
    match format {
        Format::Csv => {
            let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(reader);
            let headers: Vec<String> = match csv.headers() {
                Ok(h) => h.iter().map(|c| c.trim().to_owned()).collect(),
                Err(e) => {
                    let _ = tx.blocking_send(Message::Fatal(ApiError::malformed(format!(
                        "the CSV header cannot be read: {e}"
                    ))));
                    return;
                }
            };
            if !headers.iter().any(|h| h == "name") {
                let _ = tx.blocking_send(Message::Fatal(ApiError::malformed_field(
                    "body",
                    "the first line must be a CSV header with a name column",
                )));
                return;
            }
            let unknown: Vec<String> = headers.iter().filter(|h| !COLUMNS.contains(&h.as_str())).cloned().collect();
            if !unknown.is_empty() && tx.blocking_send(Message::IgnoredColumns(unknown)).is_err() {
                return;
            }
            for result in csv.records() {
                let parsed = match result {
                    Ok(rec) => {
                        let line = rec.position().map_or(0, |p| p.line());
                        let mut record = ImportRecord::default();
                        let mut errors = Vec::new();
                        if rec.len() != headers.len() {
                            errors.push(FieldError::new(
                                "line",
                                format!("has {} fields, the header {}", rec.len(), headers.len()),
                            ));
                        }
                        for (column, cell) in headers.iter().zip(rec.iter()) {
                            if let Err(e) = csv_cell(&mut record, column, cell) {
                                errors.push(e);
                            }
                        }
                        (line, if errors.is_empty() { validate(record) } else { Err(errors) })
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        (line, Err(vec![FieldError::new("line", format!("cannot be read: {e}"))]))
                    }
                };
                batch.push(parsed);
                if batch.len() == BATCH && !flush(&mut batch) {
                    return;
                }
            }
        }
        Format::Ndjson => {
            let reader = std::io::BufReader::with_capacity(64 * 1024, reader);
            let mut seen_record = false;
            for (i, line) in reader.split(b'\n').enumerate() {
                let line_no = i as u64 + 1;
                if let Ok(bytes) = &line {
                    let first = bytes.iter().find(|b| !NDJSON_SPACE.contains(b));
                    if !seen_record && first.is_some_and(|b| *b != b'{') {
                        let _ = tx.blocking_send(Message::Fatal(ApiError::malformed_field(
                            "body",
                            "NDJSON: each line must be a JSON object",
                        )));
                        return;
                    }
                    seen_record |= first.is_some();
                }
                let parsed = match line {
                    Ok(bytes) if bytes.iter().all(|b| NDJSON_SPACE.contains(b)) => continue,
                    Ok(bytes) => match crate::http::extract::parse_json::<ImportRecord>(&bytes) {
                        Ok(record) => (line_no, validate(record)),
                        Err(ApiError::Validation(errors)) => (line_no, Err(errors)),
                        Err(_) => (line_no, Err(vec![FieldError::new("line", "is not a JSON object")])),
                    },
                    Err(e) => (line_no, Err(vec![FieldError::new("line", format!("cannot be read: {e}"))])),
                };
                batch.push(parsed);
                if batch.len() == BATCH && !flush(&mut batch) {
                    return;
                }
            }
            if !seen_record {
                let _ = tx.blocking_send(Message::Fatal(ApiError::malformed_field("body", "NDJSON: no record")));
                return;
            }
        }
    }
    if !batch.is_empty() {
        flush(&mut batch);
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowError {
    /// Line of the file (1-based; in a CSV the header is line 1).
    pub line: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub rejected: u64,
    /// The first 100 errors.
    pub errors: Vec<RowError>,
    /// Columns of the CSV header that are not customer fields: their cells were not imported.
    pub ignored_columns: Vec<String>,
}

impl ImportReport {
    fn reject(&mut self, line: u64, errors: Vec<FieldError>) {
        self.rejected += 1;
        for e in errors {
            if self.errors.len() < MAX_REPORTED_ERRORS {
                self.errors.push(RowError { line, field: e.field, message: e.message });
            }
        }
    }
}

/// Upserts valid rows in batches where no email repeats (a repeat starts a new batch, so the
/// later row wins, as in the file).
async fn land(
    state: &AppState,
    ws: WorkspaceId,
    rows: Vec<(u64, ImportRow)>,
    report: &mut ImportReport,
) -> Result<(), ApiError> {
    let owners: Vec<Uuid> = rows.iter().filter_map(|(_, r)| r.owner_id).collect();
    let known =
        if owners.is_empty() { Vec::new() } else { customers::existing_users(&state.pool, ws, &owners).await? };
    let mut batch: Vec<(u64, ImportRow)> = Vec::new();
    let mut emails: std::collections::HashSet<String> = Default::default();
    for (line, row) in rows {
        if row.owner_id.is_some_and(|o| !known.contains(&o)) {
            report.reject(line, vec![FieldError::new("owner_id", "is not a user of this workspace")]);
            continue;
        }
        if let Some(e) = &row.email {
            if !emails.insert(e.to_lowercase()) {
                upsert(state, ws, std::mem::take(&mut batch), report).await?;
                emails = [e.to_lowercase()].into_iter().collect();
            }
        }
        batch.push((line, row));
    }
    upsert(state, ws, batch, report).await
}

async fn upsert(
    state: &AppState,
    ws: WorkspaceId,
    batch: Vec<(u64, ImportRow)>,
    report: &mut ImportReport,
) -> Result<(), ApiError> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows: Vec<ImportRow> = batch.iter().map(|(_, r)| r.clone()).collect();
    let mut tx = state.pool.begin().await?;
    match customers::import_batch(&mut tx, ws, &rows).await {
        Ok((created, updated)) => {
            tx.commit().await?;
            report.created += created;
            report.updated += updated;
            Ok(())
        }
        Err(_) if batch.len() > 1 => {
            // A concurrent write took an email meanwhile: row by row, each on its own.
            drop(tx);
            for (line, row) in batch {
                Box::pin(upsert_one(state, ws, line, row, report)).await?;
            }
            Ok(())
        }
        Err(e) => {
            drop(tx);
            report.reject(batch[0].0, vec![FieldError::new("line", crate::api::customers::write_error(e).to_string())]);
            Ok(())
        }
    }
}

async fn upsert_one(
    state: &AppState,
    ws: WorkspaceId,
    line: u64,
    row: ImportRow,
    report: &mut ImportReport,
) -> Result<(), ApiError> {
    let mut tx = state.pool.begin().await?;
    match customers::import_batch(&mut tx, ws, std::slice::from_ref(&row)).await {
        Ok((c, u)) => {
            tx.commit().await?;
            report.created += c;
            report.updated += u;
        }
        Err(e) => report.reject(line, vec![FieldError::new("line", crate::api::customers::write_error(e).to_string())]),
    }
    Ok(())
}

/// Import customers from CSV (`text/csv`, with a header) or NDJSON (`application/x-ndjson`).
///
/// Upserts by email: a row whose email names a live customer updates it (cells left empty
/// keep the current value), the others are created. Streamed: files of any size. Valid rows
/// land; a rejected row never half-lands. Answers the counts and the first 100 row errors.
/// Columns: kind, name (required), email, phone, company_name, country, city, tags (`a;b` or a
/// JSON array), attributes (a JSON object), owner_id, created_at; id, updated_at and version
/// (from an export) are ignored silently, other columns are ignored and listed in
/// `ignored_columns`. A CSV without a name column rejects every row.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    request_body(content(
        (CsvImport = "text/csv", example = "name,email,country,tags\nAda Lovelace,ada@example.com,GB,vip;math\n"),
        (NdjsonImport = "application/x-ndjson", example = "{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\"}\n")
    )),
    responses((status = 200, description = "What landed", body = ImportReport), E400, E401, E403, E415)
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
    let (bytes_tx, bytes_rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<Message>(2);
    // The body is read on this worker (the payload cannot leave it) while rows land.
    actix_web::rt::spawn(async move {
        while let Some(chunk) = payload.next().await {
            let Ok(c) = chunk else { break };
            if bytes_tx.send(c).await.is_err() {
                break;
            }
        }
    });
    let parser = tokio::task::spawn_blocking(move || {
        parse(format, ChannelReader { rx: bytes_rx, current: Bytes::new() }, rows_tx)
    });
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
                land(&state, auth.workspace_id, valid, &mut report).await?;
            }
        }
    }
    parser.await.map_err(|e| ApiError::internal(format!("import parser: {e}")))?;
    Ok(HttpResponse::Ok().json(report))
}

/// Export every customer matching the list's filters, oldest first, streamed:
/// `Accept: text/csv` (the default) or `application/x-ndjson`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
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
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("*/*").to_ascii_lowercase();
    let wants = |m: &str| accept.split(',').any(|part| mime(part) == m);
    let format = if wants("application/x-ndjson") {
        Format::Ndjson
    } else if wants("text/csv") || wants("*/*") || wants("text/*") {
        Format::Csv
    } else {
        return Err(ApiError::NotAcceptable("the export is text/csv or application/x-ndjson".into()));
    };
    let query = ListQuery::parse(req.query_string(), false)?;
    if query.sort.is_some() {
        return Err(ApiError::malformed_field("sort", "the export is always oldest first"));
    }
    let ws = auth.workspace_id;
    let filter = query.filter;
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

fn csv_chunk(rows: &[Customer], header: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(rows.len() * 200));
    if header {
        let _ = w.write_record(COLUMNS);
    }
    for c in rows {
        let _ = w.write_record([
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
        ]);
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
