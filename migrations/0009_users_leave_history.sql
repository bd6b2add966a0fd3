-- A removed user leaves the deal history it wrote, unsigned: its foreign key sets `user_id`
-- to null, the one change the append-only history takes (before, the removal of a user who
-- had moved a deal failed).
CREATE OR REPLACE FUNCTION rapport_stage_events_are_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.user_id IS NOT NULL AND NEW.user_id IS NULL
       AND (NEW.workspace_id, NEW.id, NEW.deal_id, NEW.from_stage_id, NEW.to_stage_id, NEW.changed_at)
           IS NOT DISTINCT FROM (OLD.workspace_id, OLD.id, OLD.deal_id, OLD.from_stage_id, OLD.to_stage_id, OLD.changed_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'deal stage history is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;
