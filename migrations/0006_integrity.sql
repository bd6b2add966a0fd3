-- Integrity rules that hold for every table and every write path.

-- 1. A change that changes nothing is no change: `version` and `updated_at` move only when a
--    column (other than themselves and the ones named in the trigger's arguments, such as
--    generated columns, which BEFORE triggers cannot see) takes another value. A statement
--    that sets `version` explicitly (`version = version + 1`) asks for a bump anyway: a parent
--    whose children changed (a pipeline when its stages change).
CREATE OR REPLACE FUNCTION rapport_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ignored text[] := ARRAY['updated_at', 'version'] || TG_ARGV::text[];
    old_row jsonb := to_jsonb(OLD);
    versioned boolean := old_row ? 'version';
BEGIN
    IF (versioned AND (to_jsonb(NEW) -> 'version') IS DISTINCT FROM (old_row -> 'version'))
       OR (to_jsonb(NEW) - ignored) IS DISTINCT FROM (old_row - ignored) THEN
        NEW.updated_at := now();
        IF versioned THEN
            NEW.version := OLD.version + 1;
        END IF;
    ELSE
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER customers_updated_at ON customers;
CREATE TRIGGER customers_updated_at BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION rapport_touch_updated_at('search');

-- 2. Sessions end with their user. An access token carries its user's session epoch; the
--    epoch moves when the user is disabled or changes password, which ends every session
--    issued before. Every instance keeps what it knows of users in memory and hears of each
--    change (or deletion) through this notification.
ALTER TABLE users ADD COLUMN session_epoch integer NOT NULL DEFAULT 0;

CREATE FUNCTION rapport_notify_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rapport_user_changed', OLD.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION rapport_notify_user_changed();

-- 3. Sums stored are exact at any size the inputs allow: a customer's lifetime value can pass
--    2^63 minor units with enough purchases of the largest accepted value.
ALTER TABLE customer_activity ALTER COLUMN purchase_value TYPE numeric;

-- 4. One rule for a bare date given where an instant is expected: midnight of that day in the
--    workspace's time zone, as PostgreSQL resolves it (a skipped midnight takes the offset in
--    force before the jump; a repeated one is the later instant).
CREATE FUNCTION rapport_local_midnight(d date, tz text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT d::timestamp AT TIME ZONE tz
$$;

-- 5. Amounts are in the workspace's currency: a currency change is refused while an amount
--    exists. Every write of a non-zero amount holds a shared lock on its workspace's "money"
--    key until it commits; a currency change takes it exclusively before it looks, so no
--    amount can land between its check and its commit.
CREATE FUNCTION rapport_money_key(ws uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended('rapport money ' || ws::text, 0)
$$;

CREATE FUNCTION rapport_money_written() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(rapport_money_key(NEW.workspace_id));
    RETURN NEW;
END;
$$;
CREATE TRIGGER deals_money BEFORE INSERT OR UPDATE OF amount_cents ON deals
    FOR EACH ROW WHEN (NEW.amount_cents <> 0) EXECUTE FUNCTION rapport_money_written();
CREATE TRIGGER interactions_money BEFORE INSERT OR UPDATE OF value_cents ON interactions
    FOR EACH ROW WHEN (NEW.value_cents IS NOT NULL AND NEW.value_cents <> 0)
    EXECUTE FUNCTION rapport_money_written();

-- 6. Text that people compare is stored in Unicode Normalization Form C (the API normalises on
--    input); bring the emails stored before that to NFC where no other row already holds the
--    normalised form.
UPDATE customers c SET email = normalize(c.email, NFC)
 WHERE c.email IS NOT NULL AND c.email IS NOT NFC NORMALIZED
   AND NOT EXISTS (SELECT 1 FROM customers o
                    WHERE o.workspace_id = c.workspace_id AND o.id <> c.id AND o.deleted_at IS NULL
                      AND lower(o.email) = lower(normalize(c.email, NFC)));
UPDATE users u SET email = normalize(u.email, NFC)
 WHERE u.email IS NOT NFC NORMALIZED
   AND NOT EXISTS (SELECT 1 FROM users o
                    WHERE o.workspace_id = u.workspace_id AND o.id <> u.id
                      AND lower(o.email) = lower(normalize(u.email, NFC)));
