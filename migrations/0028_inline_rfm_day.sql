-- 0017's rapport_rfm_day, with a body PostgreSQL inlines. `extract(epoch FROM <timestamptz>)` is
-- STABLE (other fields of a timestamptz depend on the session's zone), so the IMMUTABLE function
-- around it was never inlined: it ran as a call of its own for every row (3 µs; twice per
-- purchase written, through the RFM counts trigger). The same instant as a UTC timestamp has the
-- same epoch, and both steps are IMMUTABLE (checked equal over 200,000 instants from 4713 BC to
-- 294276, with the session in a zone of 45-minute offset; 100,000 calls: 300 ms before, 91 ms
-- inlined).
CREATE OR REPLACE FUNCTION rapport_rfm_day(at timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT floor(extract(epoch FROM at AT TIME ZONE 'UTC') / 86400)::bigint
$$;
