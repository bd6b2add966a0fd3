-- Each stay of a deal in a stage ends with the deal's next event (events ordered by
-- changed_at, then id): `left_at` keeps that end on the event that starts the stay (null: the
-- deal is still there), so the funnel (src/analytics/funnel.rs) reads stays from the events
-- alone instead of a window over every deal's history. Kept exact by a statement trigger in
-- the same transaction as every new event.

ALTER TABLE deal_stage_events ADD COLUMN left_at timestamptz;

-- The history stays append-only: what happened (deal, stages, time) never changes; `left_at`
-- (derived from the next event) and a removed user's `user_id` (set to null) may.
CREATE OR REPLACE FUNCTION rapport_stage_events_are_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.workspace_id, NEW.id, NEW.deal_id, NEW.from_stage_id, NEW.to_stage_id, NEW.changed_at)
           IS NOT DISTINCT FROM (OLD.workspace_id, OLD.id, OLD.deal_id, OLD.from_stage_id, OLD.to_stage_id, OLD.changed_at)
       AND (NEW.user_id IS NOT DISTINCT FROM OLD.user_id OR NEW.user_id IS NULL)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'deal stage history is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;

-- Sets `left_at` on every event of the deals a statement added events to. It first locks those
-- deals (in id order): a concurrent move of one of them (which holds its deal's lock) has then
-- committed, and the UPDATE, a statement of its own, reads with a snapshot taken after the
-- lock, so it sees that move's event too.
CREATE FUNCTION rapport_stage_events_stays() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM deals d
      WHERE (d.workspace_id, d.id) IN (SELECT workspace_id, deal_id FROM added)
      ORDER BY d.workspace_id, d.id
        FOR UPDATE;
    UPDATE deal_stage_events e
       SET left_at = n.left_at
      FROM (SELECT s.workspace_id, s.id,
                   lead(s.changed_at) OVER (PARTITION BY s.workspace_id, s.deal_id ORDER BY s.changed_at, s.id) AS left_at
              FROM deal_stage_events s
             WHERE (s.workspace_id, s.deal_id) IN (SELECT DISTINCT workspace_id, deal_id FROM added)) n
     WHERE e.workspace_id = n.workspace_id AND e.id = n.id AND e.left_at IS DISTINCT FROM n.left_at;
    RETURN NULL;
END;
$$;

CREATE TRIGGER deal_stage_events_stays AFTER INSERT ON deal_stage_events
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rapport_stage_events_stays();

UPDATE deal_stage_events e
   SET left_at = n.left_at
  FROM (SELECT workspace_id, id,
               lead(changed_at) OVER (PARTITION BY workspace_id, deal_id ORDER BY changed_at, id) AS left_at
          FROM deal_stage_events) n
 WHERE e.workspace_id = n.workspace_id AND e.id = n.id AND n.left_at IS NOT NULL;

-- The funnel reads a deal's events with their stage and end from this index alone.
DROP INDEX deal_stage_events_path_idx;
CREATE INDEX deal_stage_events_path_idx ON deal_stage_events (workspace_id, deal_id, changed_at, id)
    INCLUDE (to_stage_id, left_at);
