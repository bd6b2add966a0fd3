-- Channels, customers and interactions: the 360° record.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE channels (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('email', 'phone', 'chat', 'sms', 'mms', 'fax', 'social', 'web', 'in_person', 'other')),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    active       boolean NOT NULL DEFAULT true,
    config       jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX channels_workspace_created_idx ON channels (workspace_id, created_at, id);
CREATE TRIGGER channels_updated_at BEFORE UPDATE ON channels
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

-- Existing workspaces get the default channels a new workspace gets.
INSERT INTO channels (workspace_id, id, kind, name)
SELECT w.id, gen_random_uuid(), d.kind, d.name
  FROM workspaces w
 CROSS JOIN (VALUES ('email', 'Email'), ('phone', 'Phone'), ('chat', 'Chat'), ('sms', 'SMS'),
                    ('mms', 'MMS'), ('fax', 'Fax'), ('social', 'Social'), ('web', 'Web'),
                    ('in_person', 'In person')) AS d (kind, name);

CREATE TABLE customers (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('person', 'company')),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email        text,
    phone        text,
    company_name text,
    country      text CHECK (country ~ '^[A-Z]{2}$'),
    city         text,
    tags         text[] NOT NULL DEFAULT '{}',
    attributes   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    owner_id     uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1,
    deleted_at   timestamptz,
    -- What `q` searches: name, email, company and phone, lower-cased.
    search       text GENERATED ALWAYS AS (
                     lower(name || ' ' || coalesce(email, '') || ' ' || coalesce(company_name, '') || ' ' || coalesce(phone, ''))
                 ) STORED,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, owner_id) REFERENCES users (workspace_id, id) ON DELETE SET NULL (owner_id)
);
-- Unique among live customers: a soft-deleted customer does not hold its email.
CREATE UNIQUE INDEX customers_email_key ON customers (workspace_id, lower(email))
    WHERE deleted_at IS NULL AND email IS NOT NULL;
CREATE INDEX customers_created_idx ON customers (workspace_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX customers_updated_idx ON customers (workspace_id, updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX customers_name_idx ON customers (workspace_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX customers_search_idx ON customers USING gin (workspace_id, search gin_trgm_ops) WHERE deleted_at IS NULL;
CREATE INDEX customers_tags_idx ON customers USING gin (workspace_id, tags) WHERE deleted_at IS NULL;
CREATE INDEX customers_attributes_idx ON customers USING gin (attributes jsonb_path_ops) WHERE deleted_at IS NULL;
CREATE INDEX customers_country_idx ON customers (workspace_id, country) WHERE deleted_at IS NULL;
CREATE INDEX customers_owner_idx ON customers (workspace_id, owner_id) WHERE deleted_at IS NULL;
CREATE INDEX customers_deleted_idx ON customers (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE TRIGGER customers_updated_at BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();

CREATE TABLE interactions (
    workspace_id     uuid NOT NULL,
    id               uuid NOT NULL,
    customer_id      uuid NOT NULL,
    channel_id       uuid NOT NULL,
    direction        text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    kind             text NOT NULL CHECK (kind IN ('message', 'call', 'meeting', 'note', 'purchase', 'support')),
    subject          text,
    body             text,
    occurred_at      timestamptz NOT NULL,
    duration_seconds integer CHECK (duration_seconds >= 0),
    value_cents      bigint,
    items            text[] NOT NULL DEFAULT '{}',
    user_id          uuid,
    external_id      text,
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, customer_id) REFERENCES customers (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id),
    FOREIGN KEY (workspace_id, user_id) REFERENCES users (workspace_id, id) ON DELETE SET NULL (user_id),
    CONSTRAINT interactions_purchase_fields CHECK (kind = 'purchase' OR (value_cents IS NULL AND items = '{}')),
    -- Integrations replay safely: one row per external id and channel.
    CONSTRAINT interactions_external_key UNIQUE (workspace_id, channel_id, external_id)
);
CREATE INDEX interactions_customer_idx ON interactions (workspace_id, customer_id, occurred_at DESC, id DESC);
CREATE INDEX interactions_occurred_idx ON interactions (workspace_id, occurred_at, id);
CREATE INDEX interactions_channel_idx ON interactions (workspace_id, channel_id, occurred_at);
CREATE TRIGGER interactions_updated_at BEFORE UPDATE ON interactions
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at();
