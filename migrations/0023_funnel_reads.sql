-- The funnel (src/analytics/funnel.rs) reads its window's deals and their completed stays from
-- two covering indexes, without a probe per deal:
--
-- * a deal's figures (stage, status, amount, the stages it entered) from the index on its
--   pipeline and creation time;
-- * the completed stays of the deals created in the window, with their length in hours
--   (`stay_hours`), from an index on the stay's stage and its deal's creation time, which each
--   event now carries (`deal_created_at`). The
--   foreign key to the deal includes that time, so it is always the deal's own (and a deal's
--   `created_at` cannot change while it has a history).

ALTER TABLE deal_stage_events ADD COLUMN deal_created_at timestamptz;

ALTER TABLE deal_stage_events DISABLE TRIGGER deal_stage_events_immutable;
UPDATE deal_stage_events e
   SET deal_created_at = d.created_at
  FROM deals d
 WHERE d.workspace_id = e.workspace_id AND d.id = e.deal_id;
ALTER TABLE deal_stage_events ENABLE TRIGGER deal_stage_events_immutable;
ALTER TABLE deal_stage_events ALTER COLUMN deal_created_at SET NOT NULL;

ALTER TABLE deals ADD CONSTRAINT deals_created_key UNIQUE (workspace_id, id, created_at);
ALTER TABLE deal_stage_events
    ADD CONSTRAINT deal_stage_events_deal_fkey FOREIGN KEY (workspace_id, deal_id, deal_created_at)
        REFERENCES deals (workspace_id, id, created_at) ON DELETE CASCADE;
ALTER TABLE deal_stage_events DROP CONSTRAINT deal_stage_events_workspace_id_deal_id_fkey;

-- What happened stays as it happened: the deal's creation time joins the columns that never
-- change.
CREATE OR REPLACE FUNCTION rapport_stage_events_are_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.workspace_id, NEW.id, NEW.deal_id, NEW.from_stage_id, NEW.to_stage_id, NEW.changed_at, NEW.deal_created_at)
           IS NOT DISTINCT FROM
       (OLD.workspace_id, OLD.id, OLD.deal_id, OLD.from_stage_id, OLD.to_stage_id, OLD.changed_at, OLD.deal_created_at)
       AND (NEW.user_id IS NOT DISTINCT FROM OLD.user_id OR NEW.user_id IS NULL)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'deal stage history is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;

-- A completed stay's length in hours (null while the deal is still in the stage), as the
-- funnel's median takes it: the exact difference of the two times in seconds, over 3,600.
ALTER TABLE deal_stage_events
    ADD COLUMN stay_hours float8 GENERATED ALWAYS AS (extract(epoch FROM left_at - changed_at)::float8 / 3600) STORED;

-- The completed stays by stage and the deal's creation time.
CREATE INDEX deal_stage_events_stays_idx ON deal_stage_events (workspace_id, to_stage_id, deal_created_at)
    INCLUDE (deal_id, stay_hours) WHERE left_at IS NOT NULL;

-- A window's deals of a pipeline, with every column the funnel reads.
DROP INDEX deals_pipeline_created_idx;
CREATE INDEX deals_pipeline_created_idx ON deals (workspace_id, pipeline_id, created_at, id)
    INCLUDE (stage_id, status, amount_cents, entered_stage_ids, owner_id, customer_id);
