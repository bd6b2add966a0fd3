-- Interactions per UTC hour, channel, kind and direction: how many, and the sum of their
-- value_cents. Kept exact in the same transaction as every write to interactions, for the
-- interaction series (src/analytics/series.rs), which reads ~24 rows per day and group instead
-- of every interaction of its window.
--
-- UTC hours depend on no time zone. A bucket of a workspace (a local day, week or month) is
-- made of whole UTC hours in every zone whose offset is whole hours; the hours a local
-- boundary cuts (an offset of :30 or :45) and the partial hours at a window's edges are read
-- from the interactions themselves. So a change of the workspace's time zone needs no rebuild.
--
-- The rollup counts every interaction, those of soft-deleted customers too: the series takes
-- theirs out when it reads (they are few), which keeps deletion and restore free of any write
-- here, and free of races with writes to their interactions.
--
-- Writers only append signed changes to interaction_hour_changes: no row is shared between two
-- transactions, so writes never wait on each other for the rollup. The `rollups` job folds the
-- changes into interaction_hours; readers add the two tables, which are exact together at any
-- moment (a fold moves rows from one to the other in one transaction).

CREATE TABLE interaction_hours (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    hour         timestamptz NOT NULL,
    channel_id   uuid NOT NULL,
    kind         text NOT NULL,
    direction    text NOT NULL,
    interactions bigint NOT NULL,
    value_cents  numeric NOT NULL,
    PRIMARY KEY (workspace_id, hour, channel_id, kind, direction)
);
-- The series reads a window's rows from this index alone (an index-only scan).
CREATE INDEX interaction_hours_window_idx ON interaction_hours (workspace_id, hour)
    INCLUDE (channel_id, kind, direction, interactions, value_cents);
-- The rows a fold brought to zero, to drop.
CREATE INDEX interaction_hours_zero_idx ON interaction_hours (workspace_id) WHERE interactions = 0 AND value_cents = 0;

CREATE TABLE interaction_hour_changes (
    workspace_id uuid NOT NULL,
    hour         timestamptz NOT NULL,
    channel_id   uuid NOT NULL,
    kind         text NOT NULL,
    direction    text NOT NULL,
    interactions bigint NOT NULL,
    value_cents  numeric NOT NULL
);
CREATE INDEX interaction_hour_changes_idx ON interaction_hour_changes (workspace_id, hour);
-- Emptied every few seconds: analysed and vacuumed by its own measure.
ALTER TABLE interaction_hour_changes SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0,
                                          autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0);

-- One statement's interactions, added (inserted), taken away (deleted), or both (updated, for
-- the rows whose hour, channel, kind, direction or value changed).
CREATE FUNCTION rapport_interaction_hours_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO interaction_hour_changes (workspace_id, hour, channel_id, kind, direction, interactions, value_cents)
        SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC'), channel_id, kind, direction,
               count(*), coalesce(sum(value_cents), 0)
          FROM added
         GROUP BY 1, 2, 3, 4, 5;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO interaction_hour_changes (workspace_id, hour, channel_id, kind, direction, interactions, value_cents)
        SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC'), channel_id, kind, direction,
               -count(*), -coalesce(sum(value_cents), 0)
          FROM removed
         GROUP BY 1, 2, 3, 4, 5;
    ELSE
        INSERT INTO interaction_hour_changes (workspace_id, hour, channel_id, kind, direction, interactions, value_cents)
        SELECT d.workspace_id, d.hour, d.channel_id, d.kind, d.direction, sum(d.n), sum(d.v)
          FROM removed o
          JOIN changed_to n ON n.workspace_id = o.workspace_id AND n.id = o.id
         CROSS JOIN LATERAL (VALUES
                (o.workspace_id, date_trunc('hour', o.occurred_at, 'UTC'), o.channel_id, o.kind, o.direction,
                 -1, -coalesce(o.value_cents, 0)::numeric),
                (n.workspace_id, date_trunc('hour', n.occurred_at, 'UTC'), n.channel_id, n.kind, n.direction,
                 1, coalesce(n.value_cents, 0)::numeric)) AS d (workspace_id, hour, channel_id, kind, direction, n, v)
         WHERE (date_trunc('hour', o.occurred_at, 'UTC'), o.channel_id, o.kind, o.direction, o.value_cents)
               IS DISTINCT FROM (date_trunc('hour', n.occurred_at, 'UTC'), n.channel_id, n.kind, n.direction, n.value_cents)
         GROUP BY 1, 2, 3, 4, 5
        HAVING sum(d.n) <> 0 OR sum(d.v) <> 0;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER interactions_hours_added AFTER INSERT ON interactions
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rapport_interaction_hours_changed();
CREATE TRIGGER interactions_hours_changed AFTER UPDATE ON interactions
    REFERENCING OLD TABLE AS removed NEW TABLE AS changed_to FOR EACH STATEMENT EXECUTE FUNCTION rapport_interaction_hours_changed();
CREATE TRIGGER interactions_hours_removed AFTER DELETE ON interactions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION rapport_interaction_hours_changed();

-- Folds up to `most` changes into interaction_hours (each instance's `rollups` job; two at once
-- take different changes). Returns how many it folded.
CREATE FUNCTION rapport_interaction_hours_fold(most integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH taken AS (
        DELETE FROM interaction_hour_changes
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM interaction_hour_changes LIMIT most FOR UPDATE SKIP LOCKED))
        RETURNING *
    ),
    summed AS (
        SELECT workspace_id, hour, channel_id, kind, direction, sum(interactions) AS n, sum(value_cents) AS v,
               count(*) AS changes
          FROM taken
         GROUP BY 1, 2, 3, 4, 5
    ),
    upserted AS (
        INSERT INTO interaction_hours AS h (workspace_id, hour, channel_id, kind, direction, interactions, value_cents)
        SELECT s.workspace_id, s.hour, s.channel_id, s.kind, s.direction, s.n, s.v
          FROM summed s
         WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = s.workspace_id)
         ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (workspace_id, hour, channel_id, kind, direction) DO UPDATE
           SET interactions = h.interactions + EXCLUDED.interactions, value_cents = h.value_cents + EXCLUDED.value_cents
    )
    SELECT coalesce(sum(changes), 0) INTO folded FROM summed;
    -- Hours whose interactions all went: no row is kept for them.
    DELETE FROM interaction_hours WHERE interactions = 0 AND value_cents = 0;
    RETURN folded;
END;
$$;

-- Builds a workspace's rows from its interactions (this migration, and bulk loads that bypass
-- the trigger).
CREATE FUNCTION rapport_interaction_hours_rebuild(ws uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM interaction_hour_changes WHERE workspace_id = ws;
    DELETE FROM interaction_hours WHERE workspace_id = ws;
    INSERT INTO interaction_hours (workspace_id, hour, channel_id, kind, direction, interactions, value_cents)
    SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC'), channel_id, kind, direction,
           count(*), coalesce(sum(value_cents), 0)
      FROM interactions
     WHERE workspace_id = ws
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2;
END;
$$;

SELECT rapport_interaction_hours_rebuild(id) FROM workspaces;
