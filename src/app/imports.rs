//! Landing the rows of a customer import: batches upserted in a transaction each (by id, else
//! by email, else created), with an event per customer created or changed.

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{event, record, Actor, Result, Tx};
use crate::db::customers::{self, ImportRow, Imported};
use crate::domain::events::EventType;
use crate::domain::Role;
use crate::error::{ApiError, FieldError};

/// How many row errors a report lists.
pub const MAX_REPORTED_ERRORS: usize = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct RowError {
    /// Line of the file (1-based; in a CSV the header is line 1).
    pub line: u64,
    pub field: String,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: u64,
    /// Rows that matched a customer (by id or email), changed or not.
    pub updated: u64,
    pub rejected: u64,
    /// The first 100 errors.
    pub errors: Vec<RowError>,
    /// Read-only columns of an export (`updated_at`, `version`): not imported.
    pub ignored_columns: Vec<String>,
}

impl ImportReport {
    /// A row that does not land, with why.
    pub fn reject(&mut self, line: u64, errors: Vec<FieldError>) {
        self.rejected += 1;
        for e in errors {
            if self.errors.len() < MAX_REPORTED_ERRORS {
                self.errors.push(RowError { line, field: e.field, message: e.message });
            }
        }
    }
}

/// Lands valid rows (with their lines) in batches where no id and no email repeats (a repeat
/// starts a new batch, so the later row wins, as in the file).
pub async fn land(pool: &PgPool, actor: &Actor, rows: Vec<(u64, ImportRow)>, report: &mut ImportReport) -> Result<()> {
    actor.require(Role::Member)?;
    let owners: Vec<Uuid> = rows.iter().filter_map(|(_, r)| r.owner_id).collect();
    let known = if owners.is_empty() {
        Vec::new()
    } else {
        customers::existing_users(pool, actor.workspace_id, &owners).await?
    };
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
            upsert(pool, actor, std::mem::take(&mut batch), report).await?;
            keys.clear();
        }
        keys.extend(row_keys);
        batch.push((line, row));
    }
    upsert(pool, actor, batch, report).await
}

/// Lands a batch in one transaction; if the database refuses it (a concurrent write took an
/// email meanwhile, an id row took another customer's email), row by row, each on its own.
async fn upsert(pool: &PgPool, actor: &Actor, batch: Vec<(u64, ImportRow)>, report: &mut ImportReport) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows: Vec<ImportRow> = batch.iter().map(|(_, r)| r.clone()).collect();
    let lines: Vec<u64> = batch.iter().map(|(line, _)| *line).collect();
    let mut tx = pool.begin().await?;
    match upsert_in(&mut tx, actor, &rows).await {
        Ok(done) => {
            tx.commit().await?;
            count(report, done, &lines);
            Ok(())
        }
        Err(e @ ApiError::Unavailable(_)) => Err(e),
        Err(_) if batch.len() > 1 => {
            drop(tx);
            for (line, row) in batch {
                let mut tx = pool.begin().await?;
                match upsert_in(&mut tx, actor, std::slice::from_ref(&row)).await {
                    Ok(done) => {
                        tx.commit().await?;
                        count(report, done, &[line]);
                    }
                    // The database went away: the import is not done, and says so (503).
                    Err(e @ ApiError::Unavailable(_)) => return Err(e),
                    Err(e) => report.reject(line, vec![FieldError::new("line", e.to_string())]),
                }
            }
            Ok(())
        }
        Err(e) => {
            drop(tx);
            report.reject(lines[0], vec![FieldError::new("line", e.to_string())]);
            Ok(())
        }
    }
}

/// One batch, with its events: `customer.created`, or `customer.updated` when a row changed
/// its customer.
async fn upsert_in(tx: &mut Tx<'_>, actor: &Actor, rows: &[ImportRow]) -> Result<Imported> {
    let done = customers::import_batch(tx, actor.workspace_id, rows).await.map_err(ApiError::from)?;
    let events: Vec<_> = done
        .rows
        .iter()
        .filter(|r| r.created || r.changed)
        .map(|r| {
            let kind = if r.created { EventType::CustomerCreated } else { EventType::CustomerUpdated };
            event(kind, r.customer.id, Some(r.customer.id), &r.customer)
        })
        .collect();
    record(tx, actor, &events).await?;
    Ok(done)
}

fn count(report: &mut ImportReport, done: Imported, lines: &[u64]) {
    report.created += done.rows.iter().filter(|r| r.created).count() as u64;
    report.updated += done.rows.iter().filter(|r| !r.created).count() as u64;
    for i in done.unknown_ids {
        report.reject(lines[i], vec![FieldError::new("id", "is not a live customer of this workspace")]);
    }
}
