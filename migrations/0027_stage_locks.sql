-- A stage's lock (src/db/pipelines.rs, `hold_stage`). Every write that puts a deal in a stage
-- (a creation, a move) holds it shared from before it reads the stage until it commits; a change
-- of the stage that its deals follow (a change of kind, a removal, which moves them out) holds it
-- exclusively before it reads them. Without it, a deal could enter a stage between that change's
-- read of its deals and its commit: into a removed stage, or with the status of the stage's old
-- kind. An advisory lock, so that the many writers that share it write nothing to the stage's
-- row.
CREATE FUNCTION rapport_stage_key(stage uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended('rapport stage ' || stage::text, 0)
$$;
