//! Reading an import file, CSV or NDJSON, on a blocking thread: header columns matched the way
//! people write them, every row read into an `ImportRow` or its errors, sent in batches.

use std::io::{BufRead, Read};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::input::CustomerInput;
use crate::db::customers::{CustomerKind, ImportRow};
use crate::domain::{Country, Email, Name, Phone};
use crate::error::{ApiError, FieldError};

/// Rows handed over (and landed) at a time.
pub const BATCH: usize = 1000;
/// What JSON calls whitespace: blank NDJSON lines hold only these.
const NDJSON_SPACE: &[u8] = b" \t\r\n";
/// Columns of the CSV export, in order. The import takes the same: `id` names the customer a
/// row updates, `updated_at` and `version` are read-only and ignored.
pub const COLUMNS: [&str; 14] = [
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
    // (`get` rather than an index: the cut may fall inside a character, which is no prefix.)
    let prefix = raw.get(..ATTRIBUTE_PREFIX.len()).filter(|p| p.eq_ignore_ascii_case(ATTRIBUTE_PREFIX));
    if let (Some(_), Some(key)) = (prefix, raw.get(ATTRIBUTE_PREFIX.len()..).filter(|k| !k.is_empty())) {
        let key = crate::domain::text("header", key, 1, 200).map_err(|e| e.message)?;
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
pub enum Format {
    Csv,
    Ndjson,
}

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
pub type Parsed = (u64, Result<ImportRow, Vec<FieldError>>);

pub enum Message {
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
        email: record.email.clone(),
        phone: record.phone.clone(),
        company_name: record.company_name.clone(),
        country: record.country.clone(),
        city: record.city.clone(),
        tags: record.tags.clone().unwrap_or_default(),
        attributes: record.attributes.clone().unwrap_or_else(crate::http::patch::empty_object),
        owner_id: record.owner_id,
        created_at: record.created_at,
    };
    let f = input.read("")?;
    Ok(ImportRow {
        id: record.id,
        kind: record.kind,
        name: record.name.map(|_| f.name.into_inner()),
        email: f.email.map(Email::into_inner),
        phone: f.phone.map(Phone::into_inner),
        company_name: f.company_name.map(Name::into_inner),
        country: f.country.map(Country::into_inner),
        city: f.city.map(Name::into_inner),
        tags: record.tags.map(|_| f.tags.into_inner()),
        attributes: record.attributes.map(|_| f.attributes.into_inner()),
        owner_id: f.owner_id,
        created_at: record.created_at,
    })
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
        "id" => record.id = Some(Uuid::try_parse(cell).map_err(|_| bad(crate::domain::query::NOT_AN_ID))?),
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
        "owner_id" => record.owner_id = Some(Uuid::try_parse(cell).map_err(|_| bad(crate::domain::query::NOT_AN_ID))?),
        "created_at" => {
            record.created_at = Some(
                DateTime::parse_from_rfc3339(cell)
                    .map_err(|_| bad(crate::domain::time::TIMESTAMP_EXPECTED))?
                    .with_timezone(&Utc),
            )
        }
        _ => {}
    }
    Ok(())
}

/// Reads bytes handed over by the async side, for the blocking parser.
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
    /// The upload's failure, once met: every later read fails with it too.
    failed: Option<(std::io::ErrorKind, String)>,
}

impl ChannelReader {
    /// Reads the chunks `rx` gives, until its sender is dropped (the end) or sends an error.
    pub fn new(rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>) -> Self {
        ChannelReader { rx, current: Bytes::new(), failed: None }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if let Some((kind, message)) = &self.failed {
                return Err(std::io::Error::new(*kind, message.clone()));
            }
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => self.failed = Some((e.kind(), e.to_string())),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Where a CSV reader stands in its quoting, as the `csv` crate reads it by default (RFC 4180:
/// a quote opens a quoted field only at a field's start; inside one, `""` is a quote and a lone
/// `"` closes it; elsewhere a quote is a plain character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: a second one makes it a quote, anything else closed it.
    QuoteInQuoted,
}

/// Passes the bytes through and follows their quoting, so that the end of the input can tell
/// whether a quoted field was left open: the `csv` crate then returns the rest of the file as
/// that one field, silently (it has no strict mode).
struct QuoteTracker<R> {
    inner: R,
    state: Quoting,
    /// Whether a read was made: csv-core skips a UTF-8 byte order mark only at the start of the
    /// first input it is given, when all three bytes are in it (that input is this first read:
    /// the `csv` reader fills its buffer with one read).
    started: bool,
    /// Whether the input has ended (a read returned nothing).
    ended: bool,
}

impl<R> QuoteTracker<R> {
    const BOM: &'static [u8] = b"\xEF\xBB\xBF";

    fn new(inner: R) -> Self {
        QuoteTracker { inner, state: Quoting::FieldStart, started: false, ended: false }
    }

    /// Whether the input ended inside a quoted field (`false` while it has not ended).
    fn ended_in_quoted_field(&self) -> bool {
        self.ended && self.state == Quoting::Quoted
    }
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ended |= n == 0 && !buf.is_empty();
        let mut bytes = &buf[..n];
        if !self.started && n > 0 {
            self.started = true;
            bytes = bytes.strip_prefix(Self::BOM).unwrap_or(bytes);
        }
        for &b in bytes {
            self.state = match (self.state, b) {
                (Quoting::FieldStart, b'"') | (Quoting::QuoteInQuoted, b'"') => Quoting::Quoted,
                (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
                (Quoting::Quoted, _) => Quoting::Quoted,
                (_, b',' | b'\r' | b'\n') => Quoting::FieldStart,
                _ => Quoting::Unquoted,
            };
        }
        Ok(n)
    }
}

/// The error of the CSV record that a quote left open swallowed to the end of the file.
const UNCLOSED_QUOTE: &str =
    "opens a quoted value that is never closed: this line and every line after it were read as that one value";

/// The answer to an upload that did not arrive whole.
fn upload_failed(e: &std::io::Error) -> ApiError {
    ApiError::malformed_field("body", format!("the upload did not arrive whole ({e}): its last rows did not land"))
}

/// Runs on a blocking thread: parses and validates, sends batches of rows.
pub fn parse(format: Format, reader: ChannelReader, tx: tokio::sync::mpsc::Sender<Message>) {
    let mut batch: Vec<Parsed> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<Parsed>| tx.blocking_send(Message::Rows(std::mem::take(batch))).is_ok();
    match format {
        Format::Csv => {
            let mut csv =
                csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(QuoteTracker::new(reader));
            let header = csv.headers().cloned();
            let swallowed = csv.get_ref().ended_in_quoted_field();
            let columns = match header {
                Ok(_) if swallowed => {
                    let _ = tx
                        .blocking_send(Message::Fatal(ApiError::malformed(format!("the CSV header {UNCLOSED_QUOTE}"))));
                    return;
                }
                Ok(h) => match columns(&h) {
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
                                format!(
                                    "has {} {}, the header names {} columns",
                                    rec.len(),
                                    if rec.len() == 1 { "value" } else { "values" },
                                    columns.len()
                                ),
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
                        if let csv::ErrorKind::Io(io) = e.kind() {
                            let _ = tx.blocking_send(Message::Fatal(upload_failed(io)));
                            return;
                        }
                        let line = e.position().map_or(0, |p| p.line());
                        (line, Err(vec![FieldError::new("line", format!("cannot be read: {e}"))]))
                    }
                };
                // Sent when the next one comes: the last record stays here until the end of
                // the input says whether a quote left open swallowed the rest of the file.
                if batch.len() == BATCH && !flush(&mut batch) {
                    return;
                }
                batch.push(parsed);
            }
            if csv.get_ref().ended_in_quoted_field() {
                if let Some((_, result)) = batch.last_mut() {
                    *result = Err(vec![FieldError::new("line", UNCLOSED_QUOTE)]);
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
                    Err(e) => {
                        let _ = tx.blocking_send(Message::Fatal(upload_failed(&e)));
                        return;
                    }
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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use proptest::prelude::*;

    /// Whether `input`, read whole in chunks of `chunk` bytes, ends inside a quoted field.
    fn left_open(input: &[u8], chunk: usize) -> bool {
        let mut tracker = super::QuoteTracker::new(input);
        let mut buf = vec![0; chunk];
        while tracker.read(&mut buf).unwrap() > 0 {}
        tracker.ended_in_quoted_field()
    }

    #[test]
    fn a_quote_left_open_is_told_from_closed_and_plain_quotes() {
        let cases: [(&[u8], bool); 8] = [
            (b"a,b\n", false),
            (b"a,\"b\"\"c\"\n", false),
            (b"\"a\nb\",c", false),
            (b"5\" screen,x\r\n", false),
            (b"\"a\"b,c", false),
            (b"a,\"b", true),
            (b"a,\"b\"\"", true),
            (b"x\n\"", true),
        ];
        for (input, open) in cases {
            for chunk in [1, 2, 64] {
                assert_eq!(left_open(input, chunk), open, "{:?} in chunks of {chunk}", String::from_utf8_lossy(input));
            }
        }
        // A byte order mark is skipped as csv-core skips it: whole, at the start of the first read.
        assert!(left_open(b"\xEF\xBB\xBF\"a,b", 64));
        assert!(!left_open(b"\xEF\xBB\xBF\"a\",b", 64));
        assert!(!left_open(b"\xEF\"a,b", 64), "not a mark: the quote is inside a value");
        assert!(!left_open(b"\xEF\xBB\xBF\"a,b", 2), "split over reads, csv-core reads the mark as text");
    }

    proptest! {
        /// Any header cell, in any script, is read or refused: never a panic (a cut inside a
        /// multi-byte character once was one).
        #[test]
        fn any_header_cell_is_read_or_refused(cell in "\\PC{0,12}", prefix in prop::sample::select(vec!["", "attr.", "ATTR.", "att", "é"])) {
            let _ = super::column(&format!("{prefix}{cell}"));
        }
    }
}
