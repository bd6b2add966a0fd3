-- Requests per principal (an API token, a user, or an anonymous client address), counted in a
-- fixed window on the database's clock by the rate limiter (`http::rate_limit`): one count
-- for every instance on the database. UNLOGGED, as login failures: a
-- defence that may start empty again after PostgreSQL crashes, not data. Keys name a kind and
-- an id (`token:<uuid>`, `user:<uuid>`) or a SHA-256 of the client address (`ip:<hex>`).
CREATE UNLOGGED TABLE request_counts (
    key        text PRIMARY KEY,
    requests   integer NOT NULL CHECK (requests >= 0),
    started_at timestamptz NOT NULL
);
CREATE INDEX request_counts_started_idx ON request_counts (started_at);
