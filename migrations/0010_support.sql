-- Support: a workspace's business hours, service-level policies, and cases with their status
-- history. Due times are computed by the application on its business clock and stored; the
-- first-response and resolution times in business seconds are stored as facts when they happen
-- (calendar times follow from the instants), so that the analytics aggregate them in SQL.
CREATE TABLE business_hours (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    hours        jsonb NOT NULL CHECK (jsonb_typeof(hours) = 'object'),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1
);

CREATE TABLE sla_policies (
    workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id             uuid NOT NULL,
    name           text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    targets        jsonb NOT NULL CHECK (jsonb_typeof(targets) = 'object'),
    business_hours boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    version        bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX sla_policies_created_idx ON sla_policies (workspace_id, created_at, id);
CREATE TRIGGER sla_policies_updated_at BEFORE UPDATE ON sla_policies
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

-- Case numbers are per workspace, from 1: each workspace has its own sequence, in the schema
-- `case_numbers`, named by the workspace's id, made and dropped with the workspace. Taking a
-- number locks nothing, so cases are opened concurrently; a creation that fails after taking
-- its number leaves that number unused.
CREATE SCHEMA case_numbers;
CREATE FUNCTION rapport_case_numbers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS case_numbers.%I', NEW.id::text);
        RETURN NEW;
    END IF;
    EXECUTE format('DROP SEQUENCE IF EXISTS case_numbers.%I', OLD.id::text);
    RETURN OLD;
END $$;
CREATE TRIGGER workspaces_case_numbers AFTER INSERT OR DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION rapport_case_numbers();
-- Makes each workspace's sequence when it is missing and moves it past the workspace's highest
-- case number when it is behind: a database restored from a dump of some tables, or promoted from
-- a logical replica (which carries no sequence values). Rapport runs it after its migrations.
CREATE FUNCTION rapport_case_numbers_repair() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    w   record;
    seq regclass;
BEGIN
    FOR w IN SELECT ws.id, (SELECT max(c.number) FROM cases c WHERE c.workspace_id = ws.id) AS last
               FROM workspaces ws LOOP
        seq := to_regclass(format('case_numbers.%I', w.id::text));
        IF seq IS NULL THEN
            EXECUTE format('CREATE SEQUENCE case_numbers.%I', w.id::text);
            seq := to_regclass(format('case_numbers.%I', w.id::text));
        END IF;
        IF w.last > coalesce(pg_sequence_last_value(seq), 0) THEN
            PERFORM setval(seq, w.last);
        END IF;
    END LOOP;
END $$;

CREATE TABLE cases (
    workspace_id          uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                    uuid NOT NULL,
    number                bigint NOT NULL,
    customer_id           uuid NOT NULL,
    subject               text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 500),
    status                text NOT NULL CHECK (status IN ('new', 'open', 'pending', 'on_hold', 'solved', 'closed')),
    priority              text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    channel_id            uuid NOT NULL,
    assignee_id           uuid,
    tags                  text[] NOT NULL DEFAULT '{}',
    sla_policy_id         uuid,
    follow_up_of          uuid,
    first_response_due_at timestamptz,
    resolution_due_at     timestamptz,
    first_responded_at    timestamptz,
    solved_at             timestamptz,
    closed_at             timestamptz,
    reopened              integer NOT NULL DEFAULT 0 CHECK (reopened >= 0),
    satisfaction          text CHECK (satisfaction IN ('good', 'bad')),
    satisfaction_comment  text CHECK (satisfaction_comment IS NULL OR char_length(satisfaction_comment) <= 2000),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    version               bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, number),
    FOREIGN KEY (workspace_id, customer_id) REFERENCES customers (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id),
    FOREIGN KEY (workspace_id, assignee_id) REFERENCES users (workspace_id, id) ON DELETE SET NULL (assignee_id),
    FOREIGN KEY (workspace_id, sla_policy_id) REFERENCES sla_policies (workspace_id, id) ON DELETE SET NULL (sla_policy_id),
    FOREIGN KEY (workspace_id, follow_up_of) REFERENCES cases (workspace_id, id) ON DELETE SET NULL (follow_up_of),
    CHECK ((status IN ('solved', 'closed')) = (solved_at IS NOT NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX cases_created_idx ON cases (workspace_id, created_at, id);
CREATE INDEX cases_customer_idx ON cases (workspace_id, customer_id);
CREATE INDEX cases_open_idx ON cases (workspace_id, status) WHERE status NOT IN ('solved', 'closed');
CREATE TRIGGER cases_updated_at BEFORE UPDATE ON cases
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

-- Every status a case took, from its creation (`from_status` null) on: the pauses of its
-- resolution clock and its reopenings are read from here.
CREATE TABLE case_status_changes (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL,
    case_id      uuid NOT NULL,
    from_status  text,
    to_status    text NOT NULL,
    changed_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, case_id) REFERENCES cases (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX case_status_changes_case_idx ON case_status_changes (workspace_id, case_id, changed_at, id);

-- Interactions on a case, and the facts the support analytics aggregate.
--
-- An interaction may name a case of its own customer: the foreign key over (case, customer)
-- holds that rule for every write path. The case's first response is the earliest reply on it
-- (`responds`: an outbound interaction logged with a user, a fact that stays when the user is
-- removed later); its business-minute measures are stored when Rapport records it (and when the
-- case is solved), on the business hours in force then.
ALTER TABLE interactions ADD COLUMN case_id uuid;
ALTER TABLE interactions ADD COLUMN responds boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD CONSTRAINT cases_customer_key UNIQUE (workspace_id, id, customer_id);
ALTER TABLE interactions ADD CONSTRAINT interactions_case_fkey
    FOREIGN KEY (workspace_id, case_id, customer_id) REFERENCES cases (workspace_id, id, customer_id);
CREATE INDEX interactions_case_idx ON interactions (workspace_id, case_id, occurred_at, id) WHERE case_id IS NOT NULL;

-- Seconds from creation to the first response, and to the (latest) solution, counted on the
-- workspace's business hours: null until they happen.
-- `answered_at`: the earlier of the first response and the first solution (a reopening does not
-- undo it): when the first-response target was settled.
ALTER TABLE cases
    ADD COLUMN answered_at timestamptz,
    ADD COLUMN first_response_business_seconds bigint CHECK (first_response_business_seconds >= 0),
    ADD COLUMN resolution_business_seconds bigint CHECK (resolution_business_seconds >= 0),
    ADD CHECK ((first_responded_at IS NULL) = (first_response_business_seconds IS NULL)),
    ADD CHECK ((solved_at IS NULL) = (resolution_business_seconds IS NULL));

-- The support analytics read a window's solutions, answers and status changes by time.
CREATE INDEX cases_solved_idx ON cases (workspace_id, solved_at) WHERE solved_at IS NOT NULL;
CREATE INDEX cases_answered_idx ON cases (workspace_id, answered_at) WHERE answered_at IS NOT NULL;
CREATE INDEX case_status_changes_time_idx ON case_status_changes (workspace_id, changed_at);
-- The solved cases the close-cases job closes, oldest solution first.
CREATE INDEX cases_to_close_idx ON cases (solved_at) WHERE status = 'solved';

-- A saved report may run the support analytics.
ALTER TABLE reports DROP CONSTRAINT reports_kind_check;
ALTER TABLE reports ADD CONSTRAINT reports_kind_check
    CHECK (kind IN ('funnel', 'segments', 'rfm', 'cohorts', 'interactions', 'basket', 'support'));

-- The support analytics count a window's reopenings (solved → open) from this small index,
-- rather than from every status change of the window.
CREATE INDEX case_status_changes_reopened_idx ON case_status_changes (workspace_id, changed_at, case_id)
    WHERE from_status = 'solved' AND to_status = 'open';

-- The follow-ups of a case: its foreign key's check when a case goes (a case removed, a
-- customer erased) and the refusal to remove a followed-up case read this, not every case.
CREATE INDEX cases_follow_up_idx ON cases (workspace_id, follow_up_of) WHERE follow_up_of IS NOT NULL;

-- The sequences of the workspaces that exist already.
SELECT rapport_case_numbers_repair();
