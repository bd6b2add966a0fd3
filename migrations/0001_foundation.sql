-- Rapport foundation: workspaces (tenants), users, sessions, API tokens, idempotency keys.
--
-- Every tenant table carries `workspace_id` and a composite primary key
-- `(workspace_id, id)`; every foreign key between tenant tables includes `workspace_id`,
-- so a row can never point at another workspace's row, and every unique constraint
-- includes `workspace_id` (the schema is ready to be distributed by workspace).

-- Keeps `updated_at` true on every update.
CREATE FUNCTION rapport_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency    text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    timezone    text NOT NULL DEFAULT 'UTC',
    settings    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     bigint NOT NULL DEFAULT 1
);
CREATE TRIGGER workspaces_updated_at BEFORE UPDATE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

CREATE TABLE users (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    version       bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX users_workspace_email_key ON users (workspace_id, lower(email));
-- Login knows the email only.
CREATE INDEX users_email_idx ON users (lower(email));
CREATE INDEX users_workspace_created_idx ON users (workspace_id, created_at, id);
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

-- Refresh tokens are stored hashed. A family is one login's chain of rotations: reusing a
-- spent token revokes the whole family.
CREATE TABLE refresh_tokens (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL,
    user_id      uuid NOT NULL,
    family_id    uuid NOT NULL,
    token_hash   bytea NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (workspace_id, token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (workspace_id, family_id);

-- Long-lived tokens for scripts; `id` is the JWT's `jti`.
CREATE TABLE api_tokens (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_by   uuid,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, created_by) REFERENCES users (workspace_id, id) ON DELETE SET NULL (created_by)
);
CREATE INDEX api_tokens_workspace_created_idx ON api_tokens (workspace_id, created_at, id);
CREATE INDEX api_tokens_revoked_idx ON api_tokens (revoked_at) WHERE revoked_at IS NOT NULL;

-- A revoked API token is announced to every instance.
CREATE FUNCTION rapport_notify_token_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL THEN
        PERFORM pg_notify('rapport_api_token_revoked', NEW.id::text);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER api_tokens_revoked AFTER UPDATE OF revoked_at ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION rapport_notify_token_revoked();

-- Stored responses of POSTs sent with an Idempotency-Key (kept 24 h).
-- `status_code` is NULL while the first request is in flight.
CREATE TABLE idempotency_keys (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key              text NOT NULL,
    request_hash     bytea NOT NULL,
    status_code      integer,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
