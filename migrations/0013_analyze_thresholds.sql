-- Statistics that keep up with a new workspace. PostgreSQL's statistics know the workspaces
-- that existed at the last ANALYZE; a workspace created since (or grown from nothing) looks
-- like one row, and the planner may then read a whole workspace through any index that
-- starts with workspace_id, for a lookup by id or email. Autovacuum analyzes a table after
-- 10% of it changed: on a large table, never while a new workspace fills up. These tables are
-- analyzed after a fixed number of changed rows instead, whatever their size.
ALTER TABLE customers SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000);
ALTER TABLE deals SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000);
ALTER TABLE cases SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000);
ALTER TABLE interactions SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 50000);
ALTER TABLE deal_stage_events SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 50000);
ALTER TABLE case_status_changes SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 50000);
ALTER TABLE events SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 50000);
