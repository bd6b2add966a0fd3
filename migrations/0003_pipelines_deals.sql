-- Pipelines, their stages, deals, and the immutable history of every deal's stage changes.

CREATE TABLE pipelines (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX pipelines_created_idx ON pipelines (workspace_id, created_at, id);
CREATE TRIGGER pipelines_updated_at BEFORE UPDATE ON pipelines
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

-- A live stage has a position (0-based, contiguous within its pipeline); an archived stage
-- (one that history still points at) has none and has left the pipeline.
CREATE TABLE stages (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL,
    pipeline_id  uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    position     integer CHECK (position >= 0),
    kind         text NOT NULL CHECK (kind IN ('open', 'won', 'lost')),
    probability  integer NOT NULL CHECK (probability BETWEEN 0 AND 100),
    archived_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, pipeline_id, id),
    CONSTRAINT stages_position_key UNIQUE (workspace_id, pipeline_id, position) DEFERRABLE INITIALLY DEFERRED,
    CHECK ((archived_at IS NULL) = (position IS NOT NULL)),
    FOREIGN KEY (workspace_id, pipeline_id) REFERENCES pipelines (workspace_id, id) ON DELETE CASCADE
);
CREATE TRIGGER stages_updated_at BEFORE UPDATE ON stages
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

CREATE TABLE deals (
    workspace_id        uuid NOT NULL,
    id                  uuid NOT NULL,
    pipeline_id         uuid NOT NULL,
    stage_id            uuid NOT NULL,
    customer_id         uuid NOT NULL,
    title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    amount_cents        bigint NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),
    status              text NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    owner_id            uuid,
    expected_close_date date,
    closed_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    version             bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, id),
    CHECK ((status = 'open') = (closed_at IS NULL)),
    -- The stage is one of the deal's pipeline.
    FOREIGN KEY (workspace_id, pipeline_id, stage_id) REFERENCES stages (workspace_id, pipeline_id, id),
    FOREIGN KEY (workspace_id, customer_id) REFERENCES customers (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, owner_id) REFERENCES users (workspace_id, id) ON DELETE SET NULL (owner_id)
);
CREATE INDEX deals_pipeline_created_idx ON deals (workspace_id, pipeline_id, created_at, id);
CREATE INDEX deals_created_idx ON deals (workspace_id, created_at, id);
CREATE INDEX deals_stage_idx ON deals (workspace_id, stage_id);
CREATE INDEX deals_customer_idx ON deals (workspace_id, customer_id);
CREATE INDEX deals_owner_idx ON deals (workspace_id, owner_id);
CREATE TRIGGER deals_updated_at BEFORE UPDATE ON deals
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

-- Every stage change of a deal, its creation included (from_stage_id NULL). Append-only:
-- rows are never updated; they go only with their deal (erasure).
CREATE TABLE deal_stage_events (
    workspace_id  uuid NOT NULL,
    id            uuid NOT NULL,
    deal_id       uuid NOT NULL,
    from_stage_id uuid,
    to_stage_id   uuid NOT NULL,
    changed_at    timestamptz NOT NULL,
    user_id       uuid,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, from_stage_id) REFERENCES stages (workspace_id, id),
    FOREIGN KEY (workspace_id, to_stage_id) REFERENCES stages (workspace_id, id),
    FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id) ON DELETE SET NULL (user_id)
);
CREATE INDEX deal_stage_events_deal_idx ON deal_stage_events (workspace_id, deal_id, changed_at, id);
CREATE INDEX deal_stage_events_to_idx ON deal_stage_events (workspace_id, to_stage_id);
CREATE INDEX deal_stage_events_from_idx ON deal_stage_events (workspace_id, from_stage_id);

CREATE FUNCTION rapport_stage_events_are_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'deal stage history is append-only' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER deal_stage_events_immutable BEFORE UPDATE ON deal_stage_events
    FOR EACH ROW EXECUTE FUNCTION rapport_stage_events_are_immutable();

-- Existing workspaces get the default pipeline a new workspace gets.
DO $$
DECLARE
    w record;
    p uuid;
BEGIN
    FOR w IN SELECT id FROM workspaces LOOP
        p := gen_random_uuid();
        INSERT INTO pipelines (workspace_id, id, name) VALUES (w.id, p, 'Sales');
        INSERT INTO stages (workspace_id, id, pipeline_id, name, position, kind, probability)
        VALUES (w.id, gen_random_uuid(), p, 'Need identified', 0, 'open', 10),
               (w.id, gen_random_uuid(), p, 'Qualified', 1, 'open', 25),
               (w.id, gen_random_uuid(), p, 'Proposal', 2, 'open', 50),
               (w.id, gen_random_uuid(), p, 'Negotiation', 3, 'open', 75),
               (w.id, gen_random_uuid(), p, 'Won', 4, 'won', 100),
               (w.id, gen_random_uuid(), p, 'Lost', 5, 'lost', 0);
    END LOOP;
END;
$$;
