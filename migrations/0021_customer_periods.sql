-- Each customer's active periods: the local weeks and months (in the workspace's time zone) in
-- which it has at least one interaction, kept on its customer_activity row. Cohorts
-- (src/analytics/cohorts.rs) read them instead of every interaction of every cohort customer:
-- at a million customers, ~380,000 arrays of ~4 months instead of ~3.4 million interactions
-- reached through as many index descents.
--
-- A local period depends on the time zone, so each row names the zone its arrays were computed
-- in (`periods_tz`; null: none). The arrays are always exact for that zone: cohorts read a row
-- whose zone is the workspace's, and recompute any other from its interactions. After a change
-- of the workspace's time zone, passes of the `rollups` job convert the rows in batches
-- (rapport_customer_periods_pass), a few thousand row locks at a time: writes never wait for
-- the whole conversion, and cohorts stay exact throughout, only slower until it is done.
--
-- Locks, always in this order: the workspace row (FOR SHARE, by every writer of these rows
-- before it reads the zone, so a change of zone waits for the writers that read the old one),
-- then customer_activity rows in customer id order. A change of zone takes only the workspace
-- row (and its own generation row); a pass takes its pass row, then customer_activity rows,
-- never the workspace row: no cycle.
--
-- Inserts add their periods to the row (a set union, commutative) under the row's lock, when
-- the row is in the zone the insert read; otherwise the row becomes stale (null), and the pass
-- converts it. An insert that changes nothing in the row (the usual case) no longer writes it. Updates and deletions recompute the row from the interactions (0005's refresh).

ALTER TABLE customer_activity
    ADD COLUMN periods_tz    text,
    ADD COLUMN active_weeks  date[],
    ADD COLUMN active_months date[];

-- The distinct local weeks (starting Monday) and months of a customer's interactions in a zone,
-- each as the local date it starts on; null arrays for a customer without interactions.
CREATE FUNCTION rapport_customer_periods(ws uuid, customer uuid, tz text, OUT weeks date[], OUT months date[])
LANGUAGE sql STABLE AS $$
    SELECT array_agg(DISTINCT date_trunc('week', occurred_at AT TIME ZONE tz)::date),
           array_agg(DISTINCT date_trunc('month', occurred_at AT TIME ZONE tz)::date)
      FROM interactions
     WHERE workspace_id = ws AND customer_id = customer
$$;

-- The union of two sets of periods (sorted, without repeats); the first as it is when it
-- already holds the second (an insert in a period the customer was already active in).
CREATE FUNCTION rapport_period_union(a date[], b date[]) RETURNS date[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a @> b THEN a ELSE (SELECT array_agg(DISTINCT d) FROM unnest(a || b) AS d) END
$$;

-- 0019's insert trigger, adding the periods of the inserted interactions in the zone this
-- statement reads.
CREATE OR REPLACE FUNCTION rapport_interactions_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The zone read below stays the workspace's until this transaction ends.
    PERFORM 1 FROM workspaces WHERE id IN (SELECT workspace_id FROM added) ORDER BY id FOR SHARE;
    INSERT INTO customer_activity AS a (workspace_id, customer_id, first_at, first_id, first_channel_id,
                                        purchases, purchase_value, last_purchase_at,
                                        periods_tz, active_weeks, active_months)
    SELECT d.workspace_id, d.customer_id,
           (array_agg(d.occurred_at ORDER BY d.occurred_at, d.id))[1],
           (array_agg(d.id ORDER BY d.occurred_at, d.id))[1],
           (array_agg(d.channel_id ORDER BY d.occurred_at, d.id))[1],
           count(*) FILTER (WHERE d.kind = 'purchase'),
           coalesce(sum(d.value_cents) FILTER (WHERE d.kind = 'purchase'), 0),
           max(d.occurred_at) FILTER (WHERE d.kind = 'purchase'),
           w.timezone,
           array_agg(DISTINCT date_trunc('week', d.occurred_at AT TIME ZONE w.timezone)::date),
           array_agg(DISTINCT date_trunc('month', d.occurred_at AT TIME ZONE w.timezone)::date)
      FROM added d
      JOIN workspaces w ON w.id = d.workspace_id
     GROUP BY d.workspace_id, d.customer_id, w.timezone
     ORDER BY d.workspace_id, d.customer_id
    ON CONFLICT (workspace_id, customer_id) DO UPDATE
       SET first_at = CASE WHEN (EXCLUDED.first_at, EXCLUDED.first_id) < (a.first_at, a.first_id) THEN EXCLUDED.first_at ELSE a.first_at END,
           first_id = CASE WHEN (EXCLUDED.first_at, EXCLUDED.first_id) < (a.first_at, a.first_id) THEN EXCLUDED.first_id ELSE a.first_id END,
           first_channel_id = CASE WHEN (EXCLUDED.first_at, EXCLUDED.first_id) < (a.first_at, a.first_id)
                                   THEN EXCLUDED.first_channel_id ELSE a.first_channel_id END,
           purchases = a.purchases + EXCLUDED.purchases,
           purchase_value = a.purchase_value + EXCLUDED.purchase_value,
           last_purchase_at = greatest(a.last_purchase_at, EXCLUDED.last_purchase_at),
           -- The same zone: add; another (a change of zone under way), or none: stale.
           periods_tz = CASE WHEN a.periods_tz = EXCLUDED.periods_tz THEN a.periods_tz END,
           active_weeks = CASE WHEN a.periods_tz = EXCLUDED.periods_tz
                               THEN rapport_period_union(a.active_weeks, EXCLUDED.active_weeks) END,
           active_months = CASE WHEN a.periods_tz = EXCLUDED.periods_tz
                                THEN rapport_period_union(a.active_months, EXCLUDED.active_months) END
        -- Most inserts change nothing here (a later interaction, no purchase, in a period the
        -- customer was already active in): the row is locked, not written again.
        WHERE (EXCLUDED.first_at, EXCLUDED.first_id) < (a.first_at, a.first_id)
           OR EXCLUDED.purchases > 0
           OR (a.periods_tz IS NOT NULL AND a.periods_tz IS DISTINCT FROM EXCLUDED.periods_tz)
           OR NOT (a.active_weeks @> EXCLUDED.active_weeks AND a.active_months @> EXCLUDED.active_months);
    RETURN NULL;
END;
$$;

-- 0005's lock-then-recompute, the workspace row locked first (see the order above).
CREATE OR REPLACE FUNCTION rapport_customer_activity_recompute(ws uuid, ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM workspaces WHERE id = ws FOR SHARE;
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

-- 0005's recompute of some customers' rows (the caller holds the workspace's and their locks),
-- periods included, in the zone the workspace has.
CREATE OR REPLACE FUNCTION rapport_customer_activity_refresh(ws uuid, ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tz text := (SELECT timezone FROM workspaces WHERE id = ws);
BEGIN
    DELETE FROM customer_activity a
     WHERE a.workspace_id = ws AND a.customer_id = ANY (ids)
       AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.workspace_id = ws AND i.customer_id = a.customer_id);
    INSERT INTO customer_activity AS a (workspace_id, customer_id, first_at, first_id, first_channel_id,
                                        purchases, purchase_value, last_purchase_at,
                                        periods_tz, active_weeks, active_months)
    SELECT ws, c.id, f.occurred_at, f.id, f.channel_id, p.n, p.v, p.last, tz, r.weeks, r.months
      FROM customers c
     CROSS JOIN LATERAL (SELECT i.occurred_at, i.id, i.channel_id FROM interactions i
                          WHERE i.workspace_id = ws AND i.customer_id = c.id
                          ORDER BY i.occurred_at, i.id LIMIT 1) f
     CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(i.value_cents), 0) AS v, max(i.occurred_at) AS last
                           FROM interactions i
                          WHERE i.workspace_id = ws AND i.customer_id = c.id AND i.kind = 'purchase') p
     CROSS JOIN LATERAL rapport_customer_periods(ws, c.id, tz) r
     WHERE c.workspace_id = ws AND c.id = ANY (ids)
    ON CONFLICT (workspace_id, customer_id) DO UPDATE
       SET first_at = EXCLUDED.first_at, first_id = EXCLUDED.first_id, first_channel_id = EXCLUDED.first_channel_id,
           purchases = EXCLUDED.purchases, purchase_value = EXCLUDED.purchase_value,
           last_purchase_at = EXCLUDED.last_purchase_at,
           periods_tz = EXCLUDED.periods_tz, active_weeks = EXCLUDED.active_weeks, active_months = EXCLUDED.active_months;
END;
$$;

-- 0005's rebuild of a whole workspace (bulk loads that bypass the triggers), periods included.
CREATE OR REPLACE FUNCTION rapport_customer_activity_rebuild(ws uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tz text;
BEGIN
    SELECT timezone INTO tz FROM workspaces WHERE id = ws FOR SHARE;
    DELETE FROM customer_activity WHERE workspace_id = ws;
    INSERT INTO customer_activity (workspace_id, customer_id, first_at, first_id, first_channel_id,
                                   purchases, purchase_value, last_purchase_at,
                                   periods_tz, active_weeks, active_months)
    SELECT f.workspace_id, f.customer_id, f.occurred_at, f.id, f.channel_id,
           coalesce(p.n, 0), coalesce(p.v, 0), p.last, tz, r.weeks, r.months
      FROM (SELECT DISTINCT ON (customer_id) workspace_id, customer_id, occurred_at, id, channel_id
              FROM interactions WHERE workspace_id = ws
             ORDER BY customer_id, occurred_at, id) f
      LEFT JOIN (SELECT customer_id, count(*) AS n, coalesce(sum(value_cents), 0) AS v, max(occurred_at) AS last
                   FROM interactions WHERE workspace_id = ws AND kind = 'purchase'
                  GROUP BY customer_id) p ON p.customer_id = f.customer_id
     CROSS JOIN LATERAL rapport_customer_periods(ws, f.customer_id, tz) r;
END;
$$;

-- Conversions. A change of zone bumps its workspace's generation; a pass converts the rows of a
-- generation not yet done. Passes keep their progress in a table of their own, which a change
-- of zone never writes: it never waits for a pass.
CREATE TABLE customer_period_generations (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    generation   bigint NOT NULL
);

-- How far the conversion of a generation has come: the customer id the current round has
-- reached, the rows it converted, and whether a whole round found none left to convert (done).
-- A round that converted some is followed by another, from the beginning.
CREATE TABLE customer_period_passes (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    generation   bigint NOT NULL,
    after        uuid,
    converted    bigint NOT NULL DEFAULT 0,
    done         boolean NOT NULL DEFAULT false
);

CREATE FUNCTION rapport_workspace_timezone_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_period_generations AS g (workspace_id, generation) VALUES (NEW.id, 1)
    ON CONFLICT (workspace_id) DO UPDATE SET generation = g.generation + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER workspaces_timezone_changed AFTER UPDATE OF timezone ON workspaces
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION rapport_workspace_timezone_changed();

-- One step of a conversion: for a workspace whose generation is not done (one another instance
-- works on is skipped), the next `most` rows of its round, locked in id order, then those not in
-- the workspace's zone recomputed, by a statement whose snapshot is taken after the locks (so it
-- sees every interaction a writer added before releasing one). Returns the rows it went over
-- (at least 1), or 0 when no conversion is left to work on.
CREATE FUNCTION rapport_customer_periods_pass(most integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    g record;
    pass record;
    ids uuid[];
    n bigint;
    after_id uuid;
    so_far bigint;
BEGIN
    FOR g IN
        SELECT x.workspace_id, x.generation
          FROM customer_period_generations x
          LEFT JOIN customer_period_passes p ON p.workspace_id = x.workspace_id
         WHERE p.workspace_id IS NULL OR p.generation <> x.generation OR NOT p.done
    LOOP
        INSERT INTO customer_period_passes (workspace_id, generation) VALUES (g.workspace_id, g.generation)
        ON CONFLICT (workspace_id) DO NOTHING;
        SELECT * INTO pass FROM customer_period_passes WHERE workspace_id = g.workspace_id FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        IF pass.generation <> g.generation THEN
            -- A new zone: a first round from the beginning.
            after_id := NULL;
            so_far := 0;
        ELSIF pass.done THEN
            CONTINUE;
        ELSE
            after_id := pass.after;
            so_far := pass.converted;
        END IF;
        SELECT array_agg(customer_id ORDER BY customer_id) INTO ids
          FROM (SELECT customer_id FROM customer_activity
                 WHERE workspace_id = g.workspace_id AND (after_id IS NULL OR customer_id > after_id)
                 ORDER BY customer_id LIMIT most
                   FOR UPDATE) r;
        UPDATE customer_activity a
           SET periods_tz = w.timezone, active_weeks = p.weeks, active_months = p.months
          FROM workspaces w
         CROSS JOIN LATERAL unnest(ids) AS c (id)
         CROSS JOIN LATERAL rapport_customer_periods(w.id, c.id, w.timezone) p
         WHERE w.id = g.workspace_id AND a.workspace_id = w.id AND a.customer_id = c.id
           AND a.periods_tz IS DISTINCT FROM w.timezone;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF coalesce(cardinality(ids), 0) < most THEN
            -- The end of a round: done if it converted nothing, else another from the beginning.
            UPDATE customer_period_passes
               SET generation = g.generation, after = NULL, converted = 0, done = (so_far + n = 0)
             WHERE workspace_id = g.workspace_id;
        ELSE
            UPDATE customer_period_passes
               SET generation = g.generation, after = ids[most], converted = so_far + n, done = false
             WHERE workspace_id = g.workspace_id;
        END IF;
        RETURN greatest(coalesce(cardinality(ids), 0), 1);
    END LOOP;
    RETURN 0;
END;
$$;

-- The rows already there have no periods yet: a conversion of every workspace.
INSERT INTO customer_period_generations (workspace_id, generation) SELECT id, 1 FROM workspaces;
