-- The support analytics count a window's reopenings (solved → open) from this small index,
-- rather than from every status change of the window.
CREATE INDEX case_status_changes_reopened_idx ON case_status_changes (workspace_id, changed_at, case_id)
    WHERE from_status = 'solved' AND to_status = 'open';
