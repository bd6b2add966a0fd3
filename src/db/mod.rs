//! SQL, one module per resource. Every tenant query takes a `WorkspaceId`.

pub mod analytics;
pub mod channels;
pub mod customers;
pub mod deals;
pub mod interactions;
pub mod pipelines;
pub mod timeline;
pub mod tokens;
pub mod users;
pub mod workspaces;

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}
