-- The event log: one row per state change, written in the change's own transaction (so a
-- rolled-back change leaves none). It is the audit log and the change feed (`GET /events`).
--
-- The feed is read in (txid, seq) order, and only up to the oldest transaction still running
-- (`pg_snapshot_xmin(pg_current_snapshot())`): every event returned belongs to a finished
-- transaction, and an event committed later always sorts after every event already returned,
-- so a client polling with the last position never misses one (see src/db/events.rs).
CREATE TABLE events (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    -- Order of writing (within a transaction, the order of the changes).
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    -- The writing transaction.
    txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    type         text NOT NULL,
    resource     text NOT NULL,
    resource_id  uuid NOT NULL,
    -- The customer whose personal data the event may hold: erasing the customer scrubs it.
    customer_id  uuid,
    actor_type   text NOT NULL CHECK (actor_type IN ('user', 'api_token', 'system')),
    actor_id     uuid,
    request_id   text,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    data         jsonb NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX events_feed_idx ON events (workspace_id, txid, seq);
CREATE INDEX events_resource_idx ON events (workspace_id, resource_id);
CREATE INDEX events_customer_idx ON events (workspace_id, customer_id) WHERE customer_id IS NOT NULL;
-- Retention: the oldest go first. Rows arrive in time order, so a BRIN index (a few pages,
-- almost free to keep up on every write) finds them.
CREATE INDEX events_occurred_idx ON events USING brin (occurred_at);

-- Responses of POSTs sent with an Idempotency-Key are now written in the write's own
-- transaction, complete: a row is never left "in progress".
DELETE FROM idempotency_keys WHERE status_code IS NULL;
ALTER TABLE idempotency_keys ALTER COLUMN status_code SET NOT NULL;
