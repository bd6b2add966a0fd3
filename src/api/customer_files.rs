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

use crate::api::customers::{write_error, CustomerInput, ListQuery};
use crate::auth::roles::Member;
use crate::db::customers::{self, Customer, CustomerKind, CustomerSort, ImportRow, Position};
use crate::domain::{Validator, WorkspaceId};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::auth::Auth;
use crate::http::doc::*;
use crate::http::AppState;

const BATCH: usize = 1000;
/// What JSON calls whitespace: blank NDJSON lines hold only these.
const NDJSON_SPACE: &[u8] = b" \t\r\n";
const MAX_REPORTED_ERRORS: usize = 100;
/// Columns of the CSV export, in order. The import takes the same: `id` names the customer a
/// row updates, `updated_at` and `version` are read-only and ignored.
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
/// Columns of an export that an import ignores (and reports in `ignored_columns`).
const READ_ONLY: [&str; 2] = ["updated_at", "version"];
/// A column named `attr.<key>` sets the custom field `<key>` to the cell's text.
const ATTRIBUTE_PREFIX: &str = "attr.";

/// What a column of an imported CSV holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    /// A customer field of [`COLUMNS`] (`id` included).
    Field(&'static str),
    /// A read-only column of the export.
    ReadOnly(&'static str),
    /// A custom field.
    Attribute(String),
    /// A column without a name: its cells must be empty.
    Unnamed,
}

/// A header cell the way people write it: a byte-order mark, surrounding spaces, any case,
/// with or without spaces, hyphens or underscores between words (`Company Name`, `E-mail`,
/// `createdAt`); `attr.<key>` keeps its key as written.
fn column(raw: &str) -> Result<Column, String> {
    let raw = raw.trim_start_matches('\u{feff}').trim();
    if raw.is_empty() {
        return Ok(Column::Unnamed);
    }
    if raw.len() > ATTRIBUTE_PREFIX.len() && raw[..ATTRIBUTE_PREFIX.len()].eq_ignore_ascii_case(ATTRIBUTE_PREFIX) {
        let key = crate::domain::text("header", &raw[ATTRIBUTE_PREFIX.len()..], 1, 200).map_err(|e| e.message)?;
        return Ok(Column::Attribute(key));
    }
    // Compared without case and separators: `E-mail`, `Company Name`, `OWNER_ID`, `createdAt`.
    let bare = |s: &str| -> String {
        s.chars().filter(|c| !(c.is_whitespace() || *c == '-' || *c == '_')).flat_map(char::to_lowercase).collect()
    };
    let name = bare(raw);
    if let Some(c) = READ_ONLY.iter().find(|c| bare(c) == name) {
        return Ok(Column::ReadOnly(c));
    }
    match COLUMNS.iter().find(|c| bare(c) == name) {
        Some(c) => Ok(Column::Field(c)),
        None => Err(format!(
            "is not a customer column; the columns are {} (a custom field is attr.<key>)",
            COLUMNS.join(", ")
        )),
    }
}

/// The columns of a header, or every reason it cannot be read (unknown or repeated columns).
fn columns(headers: &csv::StringRecord) -> Result<Vec<Column>, Vec<FieldError>> {
    let mut out: Vec<Column> = Vec::with_capacity(headers.len());
    let mut errors = Vec::new();
    for (i, raw) in headers.iter().enumerate() {
        let at = format!("header[{i}]");
        match column(raw) {
            Ok(c) if c != Column::Unnamed && out.contains(&c) => {
                errors.push(FieldError::new(at, format!("{raw:?} names a column already given")))
            }
            Ok(c) => out.push(c),
            Err(message) => errors.push(FieldError::new(at, format!("{raw:?} {message}"))),
        }
    }
    if !out.contains(&Column::Field("name")) && !out.contains(&Column::Field("id")) {
        errors.push(FieldError::new("header", "must have a name column (or an id column, to update customers)"));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

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
    /// The customer this row updates (from an export).
    id: Option<Uuid>,
    /// CSV `attr.<key>` cells, merged into `attributes`.
    #[serde(skip)]
    attribute_cells: serde_json::Map<String, Value>,
    // Read-only fields of the export, accepted and ignored so an export imports as is.
    #[serde(default, rename = "updated_at")]
    _updated_at: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "version")]
    _version: Option<serde::de::IgnoredAny>,
}

/// A line of the file: a valid row or its errors.
type Parsed = (u64, Result<ImportRow, Vec<FieldError>>);

enum Message {
    /// Read-only columns of the CSV header (of an export): left out, and reported.
    IgnoredColumns(Vec<String>),
    Rows(Vec<Parsed>),
    /// The file cannot be read at all (a bad header): nothing lands.
    Fatal(ApiError),
}

fn validate(mut record: ImportRecord) -> Result<ImportRow, Vec<FieldError>> {
    if !record.attribute_cells.is_empty() {
        let mut attributes = match record.attributes.take() {
            Some(Value::Object(map)) => map,
            Some(_) => return Err(vec![FieldError::new("attributes", "must be a JSON object")]),
            None => serde_json::Map::new(),
        };
        attributes.extend(std::mem::take(&mut record.attribute_cells));
        record.attributes = Some(Value::Object(attributes));
    }
    // A row that names its customer by id may leave the name out (it keeps its name).
    let name = match (record.name.clone(), record.id) {
        (Some(name), _) => name,
        (None, Some(_)) => KEEP_NAME.to_owned(),
        (None, None) => return Err(vec![FieldError::new("name", "is required")]),
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
        attributes: record.attributes.clone().unwrap_or_else(crate::http::patch::empty_object),
        owner_id: record.owner_id,
        created_at: record.created_at,
    };
    let mut v = Validator::default();
    let fields = input.validate(&mut v, "");
    match fields {
        Some(f) if v.is_empty() => Ok(ImportRow {
            id: record.id,
            kind: record.kind,
            name: record.name.map(|_| f.name),
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

/// A name that passes validation, standing for "keep the name" in a row that gives an id and
/// no name (never stored: such a row's name is `None`).
const KEEP_NAME: &str = "(kept)";

/// A CSV cell into the record's field: empty cells are absent; a cell the export protected
/// from spreadsheets (a leading quote) is read back as it was.
fn csv_cell(record: &mut ImportRecord, column: &Column, cell: &str) -> Result<(), FieldError> {
    if cell.is_empty() {
        return Ok(());
    }
    let cell = crate::http::csv_cells::unescape(cell);
    let field = match column {
        Column::Field(f) => *f,
        Column::ReadOnly(_) => return Ok(()),
        Column::Attribute(key) => {
            record.attribute_cells.insert(key.clone(), Value::String(cell.to_owned()));
            return Ok(());
        }
        Column::Unnamed => return Err(FieldError::new("line", "has a value under a column without a name")),
    };
    let bad = |m: &str| FieldError::new(field, m);
    match field {
        "id" => record.id = Some(Uuid::try_parse(cell).map_err(|_| bad("must be a UUID"))?),
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
            let columns = match csv.headers() {
                Ok(h) => match columns(h) {
                    Ok(c) => c,
                    Err(errors) => {
                        let detail = format!(
                            "the CSV header cannot be imported: {}",
                            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
                        );
                        let _ = tx.blocking_send(Message::Fatal(ApiError::Malformed { detail, errors }));
                        return;
                    }
                },
                Err(e) => {
                    let _ = tx.blocking_send(Message::Fatal(ApiError::malformed(format!(
                        "the CSV header cannot be read: {e}"
                    ))));
                    return;
                }
            };
            let ignored: Vec<String> = columns
                .iter()
                .filter_map(|c| match c {
                    Column::ReadOnly(name) => Some((*name).to_owned()),
                    _ => None,
                })
                .collect();
            if !ignored.is_empty() && tx.blocking_send(Message::IgnoredColumns(ignored)).is_err() {
                return;
            }
            for result in csv.records() {
                let parsed = match result {
                    Ok(rec) => {
                        let line = rec.position().map_or(0, |p| p.line());
                        let mut record = ImportRecord::default();
                        let mut errors = Vec::new();
                        if rec.len() != columns.len() {
                            errors.push(FieldError::new(
                                "line",
                                format!("has {} fields, the header {}", rec.len(), columns.len()),
                            ));
                        }
                        for (column, cell) in columns.iter().zip(rec.iter()) {
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
    /// Counts what a batch did; `lines` are the batch's rows' lines, in order.
    fn add(&mut self, outcome: customers::ImportOutcome, lines: &[u64]) {
        self.created += outcome.created;
        self.updated += outcome.updated;
        for i in outcome.unknown_ids {
            self.reject(lines[i], vec![FieldError::new("id", "is not a live customer of this workspace")]);
        }
    }

    fn reject(&mut self, line: u64, errors: Vec<FieldError>) {
        self.rejected += 1;
        for e in errors {
            if self.errors.len() < MAX_REPORTED_ERRORS {
                self.errors.push(RowError { line, field: e.field, message: e.message });
            }
        }
    }
}

/// Upserts valid rows in batches where no id and no email repeats (a repeat starts a new
/// batch, so the later row wins, as in the file).
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
    let mut keys: std::collections::HashSet<String> = Default::default();
    for (line, row) in rows {
        if row.owner_id.is_some_and(|o| !known.contains(&o)) {
            report.reject(line, vec![FieldError::new("owner_id", "is not a user of this workspace")]);
            continue;
        }
        let row_keys: Vec<String> =
            row.id.map(|id| id.to_string()).into_iter().chain(row.email.as_ref().map(|e| e.to_lowercase())).collect();
        if row_keys.iter().any(|k| keys.contains(k)) {
            upsert(state, ws, std::mem::take(&mut batch), report).await?;
            keys.clear();
        }
        keys.extend(row_keys);
        batch.push((line, row));
    }
    upsert(state, ws, batch, report).await
}

/// Lands a batch in one transaction; if the database refuses it (a concurrent write took an
/// email meanwhile, an id row took another customer's email), row by row, each on its own.
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
        Ok(outcome) => {
            tx.commit().await?;
            report.add(outcome, &batch.iter().map(|(line, _)| *line).collect::<Vec<_>>());
            Ok(())
        }
        Err(_) if batch.len() > 1 => {
            drop(tx);
            for (line, row) in batch {
                let mut tx = state.pool.begin().await?;
                match customers::import_batch(&mut tx, ws, std::slice::from_ref(&row)).await {
                    Ok(outcome) => {
                        tx.commit().await?;
                        report.add(outcome, &[line]);
                    }
                    Err(e) => report.reject(line, vec![FieldError::new("line", write_error(e).to_string())]),
                }
            }
            Ok(())
        }
        Err(e) => {
            drop(tx);
            report.reject(batch[0].0, vec![FieldError::new("line", write_error(e).to_string())]);
            Ok(())
        }
    }
}

/// Import customers from CSV (`text/csv`, with a header) or NDJSON (`application/x-ndjson`).
///
/// A row with an `id` updates that customer (so an export, edited, imports back); a row
/// without one updates the live customer with its email, or else creates a customer. Cells
/// left empty keep the current value. Streamed: files of any size. Valid rows land; a rejected
/// row never half-lands. Answers the counts and the first 100 row errors.
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
    let filter = query.filter(&state.pool, ws).await?;
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
