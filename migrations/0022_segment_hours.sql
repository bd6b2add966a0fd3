-- Segments' figures per group key and UTC hour, for the customer dimensions `country`, `kind`,
-- `owner` and `tag` (and `all`, one group of every customer, for the totals). Kept exact in the
-- same transaction as every write to interactions and customers, for the segments
-- (src/analytics/segments.rs), which read ~24 rows per day and key instead of every interaction
-- of the window and every customer. `attr.<key>` and `channel` stay on the exact path.
--
-- Only live customers count. A row (dimension, key, hour) holds, over the key's live customers:
--   interactions, purchases, revenue: their interactions that occurred in the hour;
--   last_active: how many of them have their latest interaction in the hour;
-- and the row at hour '-infinity' holds `customers`, how many live customers the key has.
-- A customer's key changes (country, kind, owner, tags, soft delete, restore) move its whole
-- contribution from the old keys to the new ones.
--
-- Like interaction_hours (0014), writers only append signed changes to segment_hour_changes,
-- carrying the customer's keys as they were read (a row expands into its dimensions when it is
-- folded); the `rollups` job folds them; readers add both tables.
--
-- Consistency with concurrent writes. Each customer has a lock of its own, a transaction-level
-- advisory lock (rapport_customer_segments_lock): writers of its interactions take it shared,
-- a change of its keys (or its deletion) exclusive, each in a statement before the one that
-- reads, so a writer that waited reads the new keys, and a change of keys that waited reads
-- the interactions written meanwhile. The lock is not the customer row's: an interaction write
-- never waits for a change of its customer's other fields, and a transaction that locks a
-- customer row and then the customer's interactions (an erase's cascade, a user's deletion
-- setting owner_id and user_id to null) cannot deadlock with a writer that holds one of those
-- interactions: writers that update or delete an interaction take the lock before they lock
-- the interaction (src/app/interactions.rs), and exclusive holders take theirs in customer
-- order. The latest interaction of a customer is read after the customer_activity trigger
-- (which runs first, by name) has locked the customer's activity row, so two interaction
-- writes of one customer see each other.

-- Interactions happen at finite instants: the hour '-infinity' holds the customers.
ALTER TABLE interactions ADD CONSTRAINT interactions_occurred_finite CHECK (isfinite(occurred_at));

-- The key of a customer's advisory lock (see above).
CREATE FUNCTION rapport_customer_segments_lock(ws uuid, customer uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended('rapport customer segments ' || ws::text || ' ' || customer::text, 0)
$$;

-- Tags as the set they stand for (sorted, once each): a reordering changes no group.
CREATE FUNCTION rapport_tag_set(tags text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cardinality(tags) < 2 THEN tags
                ELSE (SELECT array_agg(DISTINCT t ORDER BY t) FROM unnest(tags) AS t) END
$$;

CREATE TABLE segment_hours (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    dimension    text NOT NULL,
    key          text,
    hour         timestamptz NOT NULL,
    customers    bigint NOT NULL,
    interactions bigint NOT NULL,
    purchases    bigint NOT NULL,
    revenue      numeric NOT NULL,
    last_active  bigint NOT NULL,
    CONSTRAINT segment_hours_key UNIQUE NULLS NOT DISTINCT (workspace_id, dimension, hour, key)
);
-- The rows that a fold brought to zero, to drop.
CREATE INDEX segment_hours_zero_idx ON segment_hours (workspace_id)
    WHERE customers = 0 AND interactions = 0 AND purchases = 0 AND revenue = 0 AND last_active = 0;

CREATE TABLE segment_hour_changes (
    workspace_id uuid NOT NULL,
    hour         timestamptz NOT NULL,
    country      text,
    kind         text,
    owner_id     uuid,
    tags         text[],
    customers    bigint NOT NULL,
    interactions bigint NOT NULL,
    purchases    bigint NOT NULL,
    revenue      numeric NOT NULL,
    last_active  bigint NOT NULL
);
CREATE INDEX segment_hour_changes_idx ON segment_hour_changes (workspace_id, hour);
ALTER TABLE segment_hour_changes SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0,
                                      autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0);

-- The groups a customer falls in: (dimension, key) for `all` (key null), `country`, `kind`,
-- `owner` (the owner's id) and `tag` (each distinct tag; none: null). ANALYTICS.md, "Segments".
CREATE FUNCTION rapport_segment_keys(country text, kind text, owner_id uuid, tags text[])
RETURNS TABLE (dimension text, key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT * FROM (VALUES ('all', NULL::text), ('country', country), ('kind', kind), ('owner', owner_id::text)) AS v
    UNION ALL
    SELECT 'tag', t FROM unnest(CASE WHEN cardinality(tags) > 0 THEN tags ELSE ARRAY[NULL::text] END) AS t GROUP BY t
$$;

-- One interaction row of a statement, added (sign 1) or taken away (-1).
CREATE TYPE rapport_interaction_change AS (
    workspace_id uuid, id uuid, customer_id uuid, occurred_at timestamptz, kind text, value_cents bigint, sign integer
);

-- Appends the changes of one statement's interactions: their figures per hour under their
-- customers' keys, and each customer's latest interaction moved from its hour before the
-- statement to its hour after. Customers soft-deleted (or gone: an erase's cascade) count
-- nowhere.
--
-- Its plan is made once per connection (a generic plan: a custom one, made again at every call
-- for the array's size, cost more than the statement itself); no two sets of the statement's
-- rows are joined with each other, only with an index, so that no plan is quadratic in a bulk
-- statement's rows.
CREATE FUNCTION rapport_segment_hours_apply(changed rapport_interaction_change[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF cardinality(changed) = 0 THEN
        RETURN;
    END IF;
    -- A statement of its own: the next one sees what a change of keys it waited for committed.
    PERFORM pg_advisory_xact_lock_shared(k.key)
       FROM (SELECT DISTINCT rapport_customer_segments_lock(r.workspace_id, r.customer_id) AS key
               FROM unnest(changed) r ORDER BY 1) k;
    -- Per customer: its rows' figures (as arrays), and what its latest interaction was before
    -- and is after the statement. The customer's interactions the statement did not write
    -- (`kept_last`, the latest of them) are there before and after it: its latest interaction
    -- before is the latest of those and of the rows taken away, after, the latest of those and
    -- of the rows added. The customer row is read once, by its key.
    INSERT INTO segment_hour_changes (workspace_id, hour, country, kind, owner_id, tags,
                                      customers, interactions, purchases, revenue, last_active)
    WITH per_customer AS (
        SELECT r.workspace_id, r.customer_id,
               coalesce(array_agg(r.id) FILTER (WHERE r.sign > 0), '{}') AS added_ids,
               max(r.occurred_at) FILTER (WHERE r.sign > 0) AS added_last,
               max(r.occurred_at) FILTER (WHERE r.sign < 0) AS removed_last,
               array_agg(date_trunc('hour', r.occurred_at, 'UTC')) AS hours,
               array_agg(r.sign) AS signs,
               array_agg(CASE WHEN r.kind = 'purchase' THEN r.sign ELSE 0 END) AS purchases,
               array_agg(coalesce(r.sign * r.value_cents, 0)) AS revenues
          FROM unnest(changed) r
         GROUP BY 1, 2
    ),
    kept AS MATERIALIZED (
        SELECT p.*,
               (SELECT max(i.occurred_at) FROM interactions i
                 WHERE i.workspace_id = p.workspace_id AND i.customer_id = p.customer_id
                   AND i.id <> ALL (p.added_ids)) AS kept_last
          FROM per_customer p
    )
    SELECT k.workspace_id, x.hour, k.country, k.kind, k.owner_id, k.tags,
           0, sum(x.interactions), sum(x.purchases), sum(x.revenue), sum(x.last_active)
      FROM (SELECT k.*, c.country, c.kind, c.owner_id, rapport_tag_set(c.tags) AS tags
              FROM kept k
              JOIN customers c ON c.workspace_id = k.workspace_id AND c.id = k.customer_id
             WHERE c.deleted_at IS NULL
            OFFSET 0) k -- each customer's tag set made once
     CROSS JOIN LATERAL (
           SELECT u.hour, u.interactions, u.purchases, u.revenue::numeric AS revenue, 0 AS last_active
             FROM unnest(k.hours, k.signs, k.purchases, k.revenues) AS u (hour, interactions, purchases, revenue)
           UNION ALL
           SELECT date_trunc('hour', b.at, 'UTC'), 0, 0, 0, -1
             FROM (SELECT greatest(k.kept_last, k.removed_last) AS at) b
            WHERE b.at IS NOT NULL
           UNION ALL
           SELECT date_trunc('hour', a.at, 'UTC'), 0, 0, 0, 1
             FROM (SELECT greatest(k.kept_last, k.added_last) AS at) a
            WHERE a.at IS NOT NULL) x
     GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(x.interactions) <> 0 OR sum(x.purchases) <> 0 OR sum(x.revenue) <> 0 OR sum(x.last_active) <> 0;
END;
$$;

CREATE FUNCTION rapport_interactions_segments() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM rapport_segment_hours_apply(ARRAY(
            SELECT ROW(workspace_id, id, customer_id, occurred_at, kind, value_cents, 1)::rapport_interaction_change
              FROM added));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM rapport_segment_hours_apply(ARRAY(
            SELECT ROW(workspace_id, id, customer_id, occurred_at, kind, value_cents, -1)::rapport_interaction_change
              FROM removed));
    ELSE
        -- Only the rows whose read columns changed (see 0020: a set difference, no join).
        PERFORM rapport_segment_hours_apply(ARRAY(
            SELECT ROW(workspace_id, id, customer_id, occurred_at, kind, value_cents, -1)::rapport_interaction_change
              FROM (SELECT workspace_id, id, customer_id, occurred_at, kind, value_cents FROM removed
                    EXCEPT ALL
                    SELECT workspace_id, id, customer_id, occurred_at, kind, value_cents FROM changed_to) o
            UNION ALL
            SELECT ROW(workspace_id, id, customer_id, occurred_at, kind, value_cents, 1)::rapport_interaction_change
              FROM (SELECT workspace_id, id, customer_id, occurred_at, kind, value_cents FROM changed_to
                    EXCEPT ALL
                    SELECT workspace_id, id, customer_id, occurred_at, kind, value_cents FROM removed) n));
    END IF;
    RETURN NULL;
END;
$$;

-- Named after interactions_activity_*: they fire after it (see the consistency note above).
CREATE TRIGGER interactions_segments_added AFTER INSERT ON interactions
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rapport_interactions_segments();
CREATE TRIGGER interactions_segments_changed AFTER UPDATE ON interactions
    REFERENCING OLD TABLE AS removed NEW TABLE AS changed_to FOR EACH STATEMENT EXECUTE FUNCTION rapport_interactions_segments();
CREATE TRIGGER interactions_segments_removed AFTER DELETE ON interactions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION rapport_interactions_segments();

-- One customer's whole contribution under given keys, signed: the customer itself, its
-- interactions per hour, its latest interaction's hour.
CREATE FUNCTION rapport_customer_segment_changes(ws uuid, customer uuid, country text, kind text, owner_id uuid,
                                                 tags text[], sign integer)
RETURNS SETOF segment_hour_changes
LANGUAGE sql STABLE AS $$
    SELECT ws, '-infinity'::timestamptz, country, kind, owner_id, tags, sign::bigint, 0::bigint, 0::bigint, 0::numeric, 0::bigint
    UNION ALL
    SELECT ws, h.hour, country, kind, owner_id, tags, 0, sign * sum(h.n), sign * sum(h.p), sign * sum(h.v),
           sign * count(*) FILTER (WHERE h.is_last)
      FROM (SELECT date_trunc('hour', i.occurred_at, 'UTC') AS hour, 1 AS n,
                   CASE WHEN i.kind = 'purchase' THEN 1 ELSE 0 END AS p, coalesce(i.value_cents, 0) AS v,
                   row_number() OVER (ORDER BY i.occurred_at DESC) = 1 AS is_last
              FROM interactions i
             WHERE i.workspace_id = ws AND i.customer_id = customer) h
     GROUP BY h.hour
$$;

-- A customer under the keys it had (sign -1) or has (1).
CREATE TYPE rapport_customer_keys AS (
    workspace_id uuid, id uuid, country text, kind text, owner_id uuid, tags text[], sign integer
);

-- Customers created, changed and deleted: a live customer's contribution added, moved when its
-- keys change or it is soft-deleted or restored, taken away when it is deleted. A workspace
-- being deleted takes its rollup rows with it: nothing to move or take away.
CREATE FUNCTION rapport_customers_segments() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    moved rapport_customer_keys[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A new customer has no interactions yet.
        INSERT INTO segment_hour_changes (workspace_id, hour, country, kind, owner_id, tags,
                                          customers, interactions, purchases, revenue, last_active)
        SELECT workspace_id, '-infinity'::timestamptz, country, kind, owner_id, rapport_tag_set(tags), count(*), 0, 0, 0, 0
          FROM added
         WHERE deleted_at IS NULL
         GROUP BY 1, 2, 3, 4, 5, 6;
    ELSIF TG_OP = 'UPDATE' THEN
        -- The live sides of the customers whose groups changed (a set difference, no join: see
        -- 0020), locked in a statement of their own before their interactions are read.
        moved := ARRAY(
            SELECT ROW(m.workspace_id, m.id, m.country, m.kind, m.owner_id, m.tags, m.sign)::rapport_customer_keys
              FROM ((SELECT workspace_id, id, country, kind, owner_id, rapport_tag_set(tags) AS tags,
                            deleted_at IS NULL AS live, -1 AS sign FROM removed
                     EXCEPT ALL
                     SELECT workspace_id, id, country, kind, owner_id, rapport_tag_set(tags), deleted_at IS NULL, -1
                       FROM changed_to)
                    UNION ALL
                    (SELECT workspace_id, id, country, kind, owner_id, rapport_tag_set(tags), deleted_at IS NULL, 1
                       FROM changed_to
                     EXCEPT ALL
                     SELECT workspace_id, id, country, kind, owner_id, rapport_tag_set(tags), deleted_at IS NULL, 1
                       FROM removed)) m
             WHERE m.live AND EXISTS (SELECT 1 FROM workspaces w WHERE w.id = m.workspace_id));
        IF cardinality(moved) > 0 THEN
            PERFORM pg_advisory_xact_lock(k.key)
               FROM (SELECT DISTINCT rapport_customer_segments_lock(m.workspace_id, m.id) AS key
                       FROM unnest(moved) m ORDER BY 1) k;
            INSERT INTO segment_hour_changes
            SELECT x.*
              FROM unnest(moved) m
             CROSS JOIN LATERAL rapport_customer_segment_changes(m.workspace_id, m.id, m.country, m.kind,
                                                                 m.owner_id, m.tags, m.sign) x;
        END IF;
    ELSE
        -- Row by row, before the row goes: its interactions are still there (an erase deletes
        -- them by cascade, after it; their own trigger finds no customer then).
        IF OLD.deleted_at IS NULL AND EXISTS (SELECT 1 FROM workspaces WHERE id = OLD.workspace_id) THEN
            PERFORM pg_advisory_xact_lock(rapport_customer_segments_lock(OLD.workspace_id, OLD.id));
            INSERT INTO segment_hour_changes
            SELECT * FROM rapport_customer_segment_changes(OLD.workspace_id, OLD.id, OLD.country, OLD.kind,
                                                          OLD.owner_id, rapport_tag_set(OLD.tags), -1);
        END IF;
        RETURN OLD;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER customers_segments_added AFTER INSERT ON customers
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rapport_customers_segments();
CREATE TRIGGER customers_segments_changed AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS removed NEW TABLE AS changed_to FOR EACH STATEMENT EXECUTE FUNCTION rapport_customers_segments();
CREATE TRIGGER customers_segments_removed BEFORE DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION rapport_customers_segments();

-- Folds up to `most` changes into segment_hours (each instance's `rollups` job; two at once take
-- different changes). Returns how many it folded.
CREATE FUNCTION rapport_segment_hours_fold(most integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH taken AS (
        DELETE FROM segment_hour_changes
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM segment_hour_changes LIMIT most FOR UPDATE SKIP LOCKED))
        RETURNING *
    ),
    summed AS (
        SELECT t.workspace_id, k.dimension, k.key, t.hour, sum(t.customers) AS customers,
               sum(t.interactions) AS interactions, sum(t.purchases) AS purchases, sum(t.revenue) AS revenue,
               sum(t.last_active) AS last_active
          FROM taken t
         CROSS JOIN LATERAL rapport_segment_keys(t.country, t.kind, t.owner_id, t.tags) k
         GROUP BY 1, 2, 3, 4
    ),
    upserted AS (
        INSERT INTO segment_hours AS h (workspace_id, dimension, key, hour, customers, interactions, purchases,
                                        revenue, last_active)
        SELECT s.workspace_id, s.dimension, s.key, s.hour, s.customers, s.interactions, s.purchases, s.revenue,
               s.last_active
          FROM summed s
         WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = s.workspace_id)
         ORDER BY 1, 2, 4, 3
        ON CONFLICT (workspace_id, dimension, hour, key) DO UPDATE
           SET customers = h.customers + EXCLUDED.customers, interactions = h.interactions + EXCLUDED.interactions,
               purchases = h.purchases + EXCLUDED.purchases, revenue = h.revenue + EXCLUDED.revenue,
               last_active = h.last_active + EXCLUDED.last_active
    )
    SELECT coalesce(count(*), 0) INTO folded FROM taken;
    DELETE FROM segment_hours
     WHERE customers = 0 AND interactions = 0 AND purchases = 0 AND revenue = 0 AND last_active = 0;
    RETURN folded;
END;
$$;

-- Builds a workspace's rows from its customers and interactions (this migration, and bulk loads
-- that bypass the triggers). A million customers' interactions expand into ~60M (key, hour)
-- rows to sum: more memory to hash them, spilling less to disk.
CREATE FUNCTION rapport_segment_hours_rebuild(ws uuid) RETURNS void
LANGUAGE plpgsql SET work_mem = '256MB' AS $$
BEGIN
    DELETE FROM segment_hour_changes WHERE workspace_id = ws;
    DELETE FROM segment_hours WHERE workspace_id = ws;
    INSERT INTO segment_hours (workspace_id, dimension, key, hour, customers, interactions, purchases, revenue,
                               last_active)
    SELECT ws, k.dimension, k.key, f.hour, sum(f.customers), sum(f.interactions), sum(f.purchases),
           sum(f.revenue), sum(f.last_active)
      FROM (SELECT c.country, c.kind, c.owner_id, c.tags, '-infinity'::timestamptz AS hour, count(*) AS customers,
                   0 AS interactions, 0 AS purchases, 0 AS revenue, 0 AS last_active
              FROM customers c
             WHERE c.workspace_id = ws AND c.deleted_at IS NULL
             GROUP BY 1, 2, 3, 4
            UNION ALL
            SELECT c.country, c.kind, c.owner_id, c.tags, date_trunc('hour', i.occurred_at, 'UTC'), 0, count(*),
                   count(*) FILTER (WHERE i.kind = 'purchase'), coalesce(sum(i.value_cents), 0), 0
              FROM interactions i
              JOIN customers c ON c.workspace_id = i.workspace_id AND c.id = i.customer_id
             WHERE i.workspace_id = ws AND c.deleted_at IS NULL
             GROUP BY 1, 2, 3, 4, 5
            UNION ALL
            SELECT c.country, c.kind, c.owner_id, c.tags, date_trunc('hour', l.last, 'UTC'), 0, 0, 0, 0, count(*)
              FROM (SELECT customer_id, max(occurred_at) AS last FROM interactions WHERE workspace_id = ws
                     GROUP BY customer_id) l
              JOIN customers c ON c.workspace_id = ws AND c.id = l.customer_id
             WHERE c.deleted_at IS NULL
             GROUP BY 1, 2, 3, 4, 5) f
     CROSS JOIN LATERAL rapport_segment_keys(f.country, f.kind, f.owner_id, f.tags) k
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 4, 3;
END;
$$;

SELECT rapport_segment_hours_rebuild(id) FROM workspaces;
