-- Indexes for the analytics statements (src/db/analytics.rs); see the plans in the issue note.

-- Windows over interactions read only these columns: an index-only scan instead of the wide
-- heap (subject, body, metadata).
CREATE INDEX interactions_window_idx ON interactions (workspace_id, occurred_at)
    INCLUDE (customer_id, channel_id, kind, direction, value_cents);

-- RFM: every purchase grouped by customer, in index order.
CREATE INDEX interactions_purchases_idx ON interactions (workspace_id, customer_id)
    INCLUDE (occurred_at, value_cents) WHERE kind = 'purchase';

-- Funnel: a deal's history in order with its stages, without the heap.
CREATE INDEX deal_stage_events_path_idx ON deal_stage_events (workspace_id, deal_id, changed_at, id)
    INCLUDE (to_stage_id);
DROP INDEX deal_stage_events_deal_idx;

-- Liveness: the few soft-deleted customers of a workspace, to leave out by an anti-join rather
-- than joining every customer.
CREATE INDEX customers_deleted_key ON customers (workspace_id, id) WHERE deleted_at IS NOT NULL;

-- Basket analysis: the purchases with items, by time, with their items.
CREATE INDEX interactions_baskets_idx ON interactions (workspace_id, occurred_at)
    INCLUDE (customer_id, items) WHERE kind = 'purchase' AND items <> '{}';
