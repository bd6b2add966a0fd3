-- The stages a deal has ever been in (creation included): the set of its events' to_stage_id,
-- kept on the deal itself as it moves, so the funnel (src/analytics/funnel.rs) finds each
-- deal's reach (the furthest path stage it entered) from its row, grouped by this set, instead
-- of aggregating every event of the cohort. Order: as entered; each stage once.
ALTER TABLE deals ADD COLUMN entered_stage_ids uuid[] NOT NULL DEFAULT '{}';

-- Every write that puts a deal in a stage (creation, a move, a stage's removal moving its
-- deals) adds the stage, before the row is written: no second write of the row.
CREATE FUNCTION rapport_deals_entered() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.entered_stage_ids := NEW.entered_stage_ids || NEW.stage_id;
    RETURN NEW;
END;
$$;

CREATE TRIGGER deals_entered BEFORE INSERT OR UPDATE ON deals
    FOR EACH ROW WHEN (NOT (NEW.stage_id = ANY (NEW.entered_stage_ids))) EXECUTE FUNCTION rapport_deals_entered();

-- The deals there are: from their history (their updated_at stays as it is).
ALTER TABLE deals DISABLE TRIGGER deals_updated_at;
UPDATE deals d
   SET entered_stage_ids = e.ids
  FROM (SELECT workspace_id, deal_id, array_agg(to_stage_id ORDER BY first_at, to_stage_id) AS ids
          FROM (SELECT workspace_id, deal_id, to_stage_id, min(changed_at) AS first_at
                  FROM deal_stage_events GROUP BY 1, 2, 3) s
         GROUP BY 1, 2) e
 WHERE d.workspace_id = e.workspace_id AND d.id = e.deal_id;
ALTER TABLE deals ENABLE TRIGGER deals_updated_at;
