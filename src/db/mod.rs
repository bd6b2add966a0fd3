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

/// A customer's rows (interactions, deals) follow it: hidden while it is soft-deleted, back when
/// it is restored. This condition, on a row aliased `t` (with `workspace_id` and
/// `customer_id`), holds while its customer is live; it probes the small partial index of
/// deleted customers (`customers_deleted_key`).
pub const CUSTOMER_IS_LIVE: &str = "NOT EXISTS (SELECT 1 FROM customers x
     WHERE x.workspace_id = t.workspace_id AND x.id = t.customer_id AND x.deleted_at IS NOT NULL)";

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}
