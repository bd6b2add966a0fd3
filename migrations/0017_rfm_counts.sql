-- How many customers with a purchase fall in each bucket of each RFM order, kept exact in the
-- same transaction as every write to customer_activity, for RFM (src/analytics/rfm.rs). A
-- customer's rank in an order (ANALYTICS.md, "RFM": the key, ties by id) is the sum of the
-- buckets below its own plus a count of the few rows of its bucket below it; the summary finds
-- its tile bounds the same way. Neither has to visit every customer.
--
-- Each bucket is labelled by a monotone function of the order's key (and, for frequency, id), so
-- the buckets below a row hold only rows below it:
--   'r'  recency:   the UTC day of the last purchase (whole days since 1970-01-01);
--   'F'  frequency: the number of purchases;
--   'f'  frequency, then id: purchases × 2^22 + the day in the customer's id (a UUIDv7 holds the
--        milliseconds of its making in its first 48 bits; any UUID orders as those bits do), so
--        one frequency's customers, most of them tied, are split by when they were made;
--   'm'  monetary:  the sum of purchase values, rounded towards −∞ to three significant digits.
--
-- The counts cover every row of customer_activity with a purchase, soft-deleted customers'
-- too, as the rollup itself does: RFM takes those (and the customers it recomputes as of a past
-- instant) out when it reads. Writers append signed changes to rfm_count_changes and the
-- `rollups` job folds them in, as for interaction_hours (0014): writers never wait on each other
-- here, and the two tables summed are exact at any moment.

-- The bucket of a purchase total (an integer): `v` rounded towards −∞ to three significant
-- digits, which is also the smallest total of that bucket.
CREATE FUNCTION rapport_rfm_value_bucket(v numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v > -1000 AND v < 1000 THEN trunc(v)
                WHEN v > 0 THEN trunc(v, 3 - length(trunc(v)::text))
                ELSE trunc(v - mod(power(10::numeric, length(trunc(-v)::text) - 3)
                                   - mod(-v, power(10::numeric, length(trunc(-v)::text) - 3)),
                                   power(10::numeric, length(trunc(-v)::text) - 3))) END
$$;

-- The day an id was made: the first 48 bits of the UUID as milliseconds since 1970, in days.
CREATE FUNCTION rapport_rfm_id_day(id uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('x' || translate(left(id::text, 13), '-', ''))::bit(48)::bigint / 86400000
$$;

-- The smallest UUID of an id day.
CREATE FUNCTION rapport_rfm_id_day_start(day bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (lpad(to_hex(day * 86400000), 12, '0') || '00000000000000000000')::uuid
$$;

-- The day of an instant, in whole UTC days since 1970-01-01.
CREATE FUNCTION rapport_rfm_day(at timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT floor(extract(epoch FROM at) / 86400)::bigint
$$;

-- The frequency-then-id bucket of a customer: purchases × 2^22 + its id's day.
CREATE FUNCTION rapport_rfm_frequency_bucket(purchases bigint, customer_id uuid) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT purchases * 4194304::numeric + rapport_rfm_id_day(customer_id)
$$;

-- A frequency-then-id bucket's frequency and id day.
CREATE FUNCTION rapport_rfm_bucket_frequency(bucket numeric) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT div(bucket, 4194304)::bigint
$$;
CREATE FUNCTION rapport_rfm_bucket_id_day(bucket numeric) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT mod(bucket, 4194304)::bigint
$$;

-- The four buckets of a customer with purchases (numeric: a purchase total can pass bigint's
-- range).
CREATE FUNCTION rapport_rfm_buckets(customer_id uuid, purchases bigint, purchase_value numeric,
                                    last_purchase_at timestamptz)
RETURNS TABLE (dimension "char", bucket numeric)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- Two arrays unnested side by side: cheaper per row than a VALUES list.
    SELECT unnest('{r,F,f,m}'::"char"[]),
           unnest(ARRAY[rapport_rfm_day(last_purchase_at)::numeric, purchases::numeric,
                        rapport_rfm_frequency_bucket(purchases, customer_id), rapport_rfm_value_bucket(purchase_value)])
$$;

CREATE TABLE rfm_counts (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    dimension    "char" NOT NULL,
    bucket       numeric NOT NULL,
    customers    bigint NOT NULL,
    PRIMARY KEY (workspace_id, dimension, bucket)
);
-- The buckets a fold brought to zero, to drop.
CREATE INDEX rfm_counts_zero_idx ON rfm_counts (workspace_id) WHERE customers = 0;

CREATE TABLE rfm_count_changes (
    workspace_id uuid NOT NULL,
    dimension    "char" NOT NULL,
    bucket       numeric NOT NULL,
    customers    bigint NOT NULL
);
CREATE INDEX rfm_count_changes_idx ON rfm_count_changes (workspace_id, dimension, bucket);
-- Emptied every few seconds: analysed and vacuumed by its own measure.
ALTER TABLE rfm_count_changes SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0,
                                   autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0);

-- One statement's rows of customer_activity, added (inserted), taken away (deleted), or both
-- (updated, for the rows whose purchases changed): a customer counts while it has a purchase.
CREATE FUNCTION rapport_rfm_counts_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rfm_count_changes (workspace_id, dimension, bucket, customers)
        SELECT a.workspace_id, b.dimension, b.bucket, count(*)
          FROM added a
         CROSS JOIN LATERAL rapport_rfm_buckets(a.customer_id, a.purchases, a.purchase_value, a.last_purchase_at) b
         WHERE a.purchases > 0
         GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rfm_count_changes (workspace_id, dimension, bucket, customers)
        SELECT a.workspace_id, b.dimension, b.bucket, -count(*)
          FROM removed a
         CROSS JOIN LATERAL rapport_rfm_buckets(a.customer_id, a.purchases, a.purchase_value, a.last_purchase_at) b
         WHERE a.purchases > 0
         GROUP BY 1, 2, 3;
    ELSE
        -- Each updated row takes its old buckets away and adds its new ones; a row whose
        -- purchases did not change cancels out. No join of the two transition tables: the
        -- function's cached plan (made for the sizes of an earlier call) cannot go quadratic.
        INSERT INTO rfm_count_changes (workspace_id, dimension, bucket, customers)
        SELECT d.workspace_id, b.dimension, b.bucket, sum(d.sign)
          FROM (SELECT workspace_id, customer_id, purchases, purchase_value, last_purchase_at, -1 AS sign
                  FROM removed WHERE purchases > 0
                UNION ALL
                SELECT workspace_id, customer_id, purchases, purchase_value, last_purchase_at, 1
                  FROM changed_to WHERE purchases > 0) d
         CROSS JOIN LATERAL rapport_rfm_buckets(d.customer_id, d.purchases, d.purchase_value, d.last_purchase_at) b
         GROUP BY 1, 2, 3
        HAVING sum(d.sign) <> 0;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER customer_activity_rfm_added AFTER INSERT ON customer_activity
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rapport_rfm_counts_changed();
CREATE TRIGGER customer_activity_rfm_changed AFTER UPDATE ON customer_activity
    REFERENCING OLD TABLE AS removed NEW TABLE AS changed_to FOR EACH STATEMENT EXECUTE FUNCTION rapport_rfm_counts_changed();
CREATE TRIGGER customer_activity_rfm_removed AFTER DELETE ON customer_activity
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION rapport_rfm_counts_changed();

-- Folds up to `most` changes into rfm_counts (each instance's `rollups` job; two at once take
-- different changes). Returns how many it folded.
CREATE FUNCTION rapport_rfm_counts_fold(most integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH taken AS (
        DELETE FROM rfm_count_changes
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM rfm_count_changes LIMIT most FOR UPDATE SKIP LOCKED))
        RETURNING *
    ),
    summed AS (
        SELECT workspace_id, dimension, bucket, sum(customers) AS n, count(*) AS changes
          FROM taken
         GROUP BY 1, 2, 3
    ),
    upserted AS (
        INSERT INTO rfm_counts AS c (workspace_id, dimension, bucket, customers)
        SELECT s.workspace_id, s.dimension, s.bucket, s.n
          FROM summed s
         WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = s.workspace_id)
         ORDER BY 1, 2, 3
        ON CONFLICT (workspace_id, dimension, bucket) DO UPDATE SET customers = c.customers + EXCLUDED.customers
    )
    SELECT coalesce(sum(changes), 0) INTO folded FROM summed;
    -- Buckets left without customers: no row is kept for them.
    DELETE FROM rfm_counts WHERE customers = 0;
    RETURN folded;
END;
$$;

INSERT INTO rfm_counts (workspace_id, dimension, bucket, customers)
SELECT a.workspace_id, b.dimension, b.bucket, count(*)
  FROM customer_activity a
 CROSS JOIN LATERAL rapport_rfm_buckets(a.customer_id, a.purchases, a.purchase_value, a.last_purchase_at) b
 WHERE a.purchases > 0
 GROUP BY 1, 2, 3;
