-- Failed logins, shared by every instance on the database: the login throttle counts them per
-- email and per client address in a fixed window on the database's clock. UNLOGGED: the
-- counts are a defence that may start empty again after PostgreSQL crashes, not data. Keys
-- are a kind and a SHA-256 of the email or the address: neither is kept in clear.
CREATE UNLOGGED TABLE login_failures (
    key        text PRIMARY KEY,
    failures   integer NOT NULL CHECK (failures > 0),
    started_at timestamptz NOT NULL
);
CREATE INDEX login_failures_started_idx ON login_failures (started_at);
