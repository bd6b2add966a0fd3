-- Saved reports: an analytics endpoint (`kind`) with its parameters, run on demand or on a
-- schedule stated in the workspace's local time. `next_run_at` is the next slot in UTC (null
-- without a schedule); the scheduler claims due reports with FOR UPDATE SKIP LOCKED, and a run
-- is unique per (report, slot), so several instances run each slot exactly once.
CREATE TABLE reports (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    kind         text NOT NULL CHECK (kind IN ('funnel', 'segments', 'rfm', 'cohorts', 'interactions', 'basket')),
    params       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    schedule     jsonb CHECK (schedule IS NULL OR jsonb_typeof(schedule) = 'object'),
    next_run_at  timestamptz,
    -- A scheduler instance is running the slot until then (past it, another may).
    claimed_until timestamptz,
    last_run_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, id),
    CHECK ((schedule IS NULL) = (next_run_at IS NULL))
);
CREATE INDEX reports_created_idx ON reports (workspace_id, created_at, id);
CREATE INDEX reports_due_idx ON reports (next_run_at) WHERE next_run_at IS NOT NULL;
-- Runs move `last_run_at`, `next_run_at` and `claimed_until`: none is an edit of the report.
CREATE TRIGGER reports_updated_at BEFORE UPDATE ON reports
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at('last_run_at', 'next_run_at', 'claimed_until');

CREATE TABLE report_runs (
    workspace_id  uuid NOT NULL,
    id            uuid NOT NULL,
    report_id     uuid NOT NULL,
    trigger       text NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    -- The slot a scheduled run is for (null for a manual run): at most one run per slot.
    scheduled_for timestamptz CHECK ((trigger = 'schedule') = (scheduled_for IS NOT NULL)),
    status        text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    window_from   timestamptz,
    window_to     timestamptz,
    result        jsonb,
    error         jsonb,
    CHECK ((status = 'succeeded') = (result IS NOT NULL AND error IS NULL)),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, report_id) REFERENCES reports (workspace_id, id) ON DELETE CASCADE,
    UNIQUE (workspace_id, report_id, scheduled_for)
);
CREATE INDEX report_runs_report_idx ON report_runs (workspace_id, report_id, started_at DESC, id DESC);
-- Retention: the oldest go first.
CREATE INDEX report_runs_started_idx ON report_runs (started_at);
