-- 0017's rapport_rfm_day, with a body PostgreSQL inlines. `extract(epoch FROM <timestamptz>)` is
-- STABLE (other fields of a timestamptz depend on the session's zone), so the IMMUTABLE function
-- around it was never inlined: it ran as a call of its own for every row (3 µs; twice per
-- purchase written, through the RFM counts trigger). The epoch of the interval since
-- 1970-01-01 UTC is the same number, and everything in it is IMMUTABLE (checked equal over
-- 200,000 instants from 4000 BC to 9999, in a zone with a 45-minute offset; 100,000 calls:
-- 300 ms before, 91 ms inlined).
CREATE OR REPLACE FUNCTION rapport_rfm_day(at timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT floor(extract(epoch FROM at - '1970-01-01 00:00:00+00'::timestamptz) / 86400)::bigint
$$;
