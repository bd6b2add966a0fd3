-- A rollup per customer for analytics, kept exact by triggers in the same transaction as every
-- write to interactions: the customer's first interaction (cohorts, acquisition channel) and
-- its purchases (RFM). See src/db/analytics.rs for how the statements use it.

CREATE TABLE customer_activity (
    workspace_id     uuid NOT NULL,
    customer_id      uuid NOT NULL,
    -- The earliest interaction (ties: smallest id).
    first_at         timestamptz NOT NULL,
    first_id         uuid NOT NULL,
    first_channel_id uuid NOT NULL,
    -- Purchases: how many, the sum of their value_cents (missing: 0), the latest.
    purchases        bigint NOT NULL,
    purchase_value   bigint NOT NULL,
    last_purchase_at timestamptz,
    PRIMARY KEY (workspace_id, customer_id),
    FOREIGN KEY (workspace_id, customer_id) REFERENCES customers (workspace_id, id) ON DELETE CASCADE
) WITH (fillfactor = 80); -- room on the page: updates stay HOT (only the key is indexed)

-- Recomputes the rows of some customers of a workspace from their interactions.
CREATE FUNCTION rapport_customer_activity_refresh(ws uuid, ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_activity a
     WHERE a.workspace_id = ws AND a.customer_id = ANY (ids)
       AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.workspace_id = ws AND i.customer_id = a.customer_id);
    INSERT INTO customer_activity AS a (workspace_id, customer_id, first_at, first_id, first_channel_id,
                                        purchases, purchase_value, last_purchase_at)
    SELECT ws, c.id, f.occurred_at, f.id, f.channel_id, p.n, p.v, p.last
      FROM customers c
     CROSS JOIN LATERAL (SELECT i.occurred_at, i.id, i.channel_id FROM interactions i
                          WHERE i.workspace_id = ws AND i.customer_id = c.id
                          ORDER BY i.occurred_at, i.id LIMIT 1) f
     CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(i.value_cents), 0) AS v, max(i.occurred_at) AS last
                           FROM interactions i
                          WHERE i.workspace_id = ws AND i.customer_id = c.id AND i.kind = 'purchase') p
     WHERE c.workspace_id = ws AND c.id = ANY (ids)
    ON CONFLICT (workspace_id, customer_id) DO UPDATE
       SET first_at = EXCLUDED.first_at, first_id = EXCLUDED.first_id, first_channel_id = EXCLUDED.first_channel_id,
           purchases = EXCLUDED.purchases, purchase_value = EXCLUDED.purchase_value,
           last_purchase_at = EXCLUDED.last_purchase_at;
END;
$$;

-- Inserts add to a customer's row (commutative: minimum, sums, maximum), under the row's lock
-- taken by the upsert. Updates and deletions lock the rows of the customers they touch (making
-- one first if needed), in id order, then recompute them: the recompute reads with a snapshot
-- taken after the lock, so it sees every insert that already added to the row, and an insert
-- waiting for the lock adds its own interaction (which the recompute could not see) afterwards.
CREATE FUNCTION rapport_interactions_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_activity AS a (workspace_id, customer_id, first_at, first_id, first_channel_id,
                                        purchases, purchase_value, last_purchase_at)
    SELECT f.workspace_id, f.customer_id, f.occurred_at, f.id, f.channel_id, s.n, s.v, s.last
      FROM (SELECT DISTINCT ON (workspace_id, customer_id) workspace_id, customer_id, occurred_at, id, channel_id
              FROM added ORDER BY workspace_id, customer_id, occurred_at, id) f
      JOIN (SELECT workspace_id, customer_id, count(*) FILTER (WHERE kind = 'purchase') AS n,
                   coalesce(sum(value_cents) FILTER (WHERE kind = 'purchase'), 0) AS v,
                   max(occurred_at) FILTER (WHERE kind = 'purchase') AS last
              FROM added GROUP BY workspace_id, customer_id) s
        ON s.workspace_id = f.workspace_id AND s.customer_id = f.customer_id
     ORDER BY f.workspace_id, f.customer_id
    ON CONFLICT (workspace_id, customer_id) DO UPDATE
       SET first_at = CASE WHEN (EXCLUDED.first_at, EXCLUDED.first_id) < (a.first_at, a.first_id) THEN EXCLUDED.first_at ELSE a.first_at END,
           first_id = CASE WHEN (EXCLUDED.first_at, EXCLUDED.first_id) < (a.first_at, a.first_id) THEN EXCLUDED.first_id ELSE a.first_id END,
           first_channel_id = CASE WHEN (EXCLUDED.first_at, EXCLUDED.first_id) < (a.first_at, a.first_id)
                                   THEN EXCLUDED.first_channel_id ELSE a.first_channel_id END,
           purchases = a.purchases + EXCLUDED.purchases,
           purchase_value = a.purchase_value + EXCLUDED.purchase_value,
           last_purchase_at = greatest(a.last_purchase_at, EXCLUDED.last_purchase_at);
    RETURN NULL;
END;
$$;

-- Locks (making them if missing, from one of their interactions) the rows of these customers,
-- in id order, then recomputes them.
CREATE FUNCTION rapport_customer_activity_recompute(ws uuid, ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_activity (workspace_id, customer_id, first_at, first_id, first_channel_id,
                                   purchases, purchase_value, last_purchase_at)
    SELECT ws, c.id, i.occurred_at, i.id, i.channel_id, 0, 0, NULL
      FROM unnest(ids) AS c (id)
     CROSS JOIN LATERAL (SELECT occurred_at, id, channel_id FROM interactions
                          WHERE workspace_id = ws AND customer_id = c.id LIMIT 1) i
     ORDER BY c.id
    ON CONFLICT (workspace_id, customer_id) DO NOTHING;
    PERFORM 1 FROM customer_activity
      WHERE workspace_id = ws AND customer_id = ANY (ids)
      ORDER BY customer_id
        FOR UPDATE;
    PERFORM rapport_customer_activity_refresh(ws, ids);
END;
$$;

-- Updates (of the columns the rollup reads) and deletions recompute the customers they touch,
-- before and after.
CREATE FUNCTION rapport_interactions_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        FOR k IN
            SELECT workspace_id, array_agg(DISTINCT customer_id) AS ids FROM removed GROUP BY workspace_id ORDER BY workspace_id
        LOOP
            PERFORM rapport_customer_activity_recompute(k.workspace_id, k.ids);
        END LOOP;
    ELSE
        FOR k IN
            SELECT t.workspace_id, array_agg(DISTINCT t.customer_id) AS ids
              FROM removed o
              JOIN changed_to n ON n.workspace_id = o.workspace_id AND n.id = o.id
             CROSS JOIN LATERAL (VALUES (o.workspace_id, o.customer_id), (n.workspace_id, n.customer_id)) AS t (workspace_id, customer_id)
             WHERE (o.customer_id, o.channel_id, o.kind, o.occurred_at, o.value_cents)
                   IS DISTINCT FROM (n.customer_id, n.channel_id, n.kind, n.occurred_at, n.value_cents)
             GROUP BY t.workspace_id ORDER BY t.workspace_id
        LOOP
            PERFORM rapport_customer_activity_recompute(k.workspace_id, k.ids);
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER interactions_activity_added AFTER INSERT ON interactions
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rapport_interactions_added();
CREATE TRIGGER interactions_activity_changed AFTER UPDATE ON interactions
    REFERENCING OLD TABLE AS removed NEW TABLE AS changed_to FOR EACH STATEMENT EXECUTE FUNCTION rapport_interactions_changed();
CREATE TRIGGER interactions_activity_removed AFTER DELETE ON interactions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION rapport_interactions_changed();

-- Builds a workspace's rows from scratch (this migration, and bulk loads that bypass the
-- triggers).
CREATE FUNCTION rapport_customer_activity_rebuild(ws uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_activity WHERE workspace_id = ws;
    INSERT INTO customer_activity (workspace_id, customer_id, first_at, first_id, first_channel_id,
                                   purchases, purchase_value, last_purchase_at)
    SELECT f.workspace_id, f.customer_id, f.occurred_at, f.id, f.channel_id,
           coalesce(p.n, 0), coalesce(p.v, 0), p.last
      FROM (SELECT DISTINCT ON (customer_id) workspace_id, customer_id, occurred_at, id, channel_id
              FROM interactions WHERE workspace_id = ws
             ORDER BY customer_id, occurred_at, id) f
      LEFT JOIN (SELECT customer_id, count(*) AS n, coalesce(sum(value_cents), 0) AS v, max(occurred_at) AS last
                   FROM interactions WHERE workspace_id = ws AND kind = 'purchase'
                  GROUP BY customer_id) p ON p.customer_id = f.customer_id;
END;
$$;

SELECT rapport_customer_activity_rebuild(id) FROM workspaces;
