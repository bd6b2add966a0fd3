-- The UPDATE branches of the interactions' statement triggers (0005, 0014) no longer join the
-- old and new transition tables. PL/pgSQL keeps a statement's plan for the connection, made
-- with the transition tables' sizes at its first call: after single-row updates, the join was a
-- nested loop over two tuplestores, quadratic in the rows of a later bulk update (0019 fixed the
-- same fault on the insert path). A set difference and a signed sum do the same work in one pass.

-- customer_activity: the customers of the rows whose read columns changed, before and after.
CREATE OR REPLACE FUNCTION rapport_interactions_changed() RETURNS trigger
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
        -- A row is in a difference when one of its read columns changed (set operations take
        -- two nulls as equal, as IS DISTINCT FROM does).
        FOR k IN
            SELECT t.workspace_id, array_agg(DISTINCT t.customer_id) AS ids
              FROM ((SELECT workspace_id, id, customer_id, channel_id, kind, occurred_at, value_cents FROM removed
                     EXCEPT ALL
                     SELECT workspace_id, id, customer_id, channel_id, kind, occurred_at, value_cents FROM changed_to)
                    UNION ALL
                    (SELECT workspace_id, id, customer_id, channel_id, kind, occurred_at, value_cents FROM changed_to
                     EXCEPT ALL
                     SELECT workspace_id, id, customer_id, channel_id, kind, occurred_at, value_cents FROM removed)) t
             GROUP BY t.workspace_id ORDER BY t.workspace_id
        LOOP
            PERFORM rapport_customer_activity_recompute(k.workspace_id, k.ids);
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;

-- interaction_hour_changes: the old rows taken away and the new ones added, summed per hour and
-- key; a row whose hour, channel, kind, direction and value stayed cancels itself out.
CREATE OR REPLACE FUNCTION rapport_interaction_hours_changed() RETURNS trigger
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
        SELECT workspace_id, hour, channel_id, kind, direction, sum(n), sum(v)
          FROM (SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC') AS hour, channel_id, kind, direction,
                       -1 AS n, -coalesce(value_cents, 0)::numeric AS v
                  FROM removed
                UNION ALL
                SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC'), channel_id, kind, direction,
                       1, coalesce(value_cents, 0)::numeric
                  FROM changed_to) d
         GROUP BY 1, 2, 3, 4, 5
        HAVING sum(n) <> 0 OR sum(v) <> 0;
    END IF;
    RETURN NULL;
END;
$$;
