-- The lock that orders interaction writes with changes of their customers' segment keys (0022)
-- is now one of 1,024 per workspace, by the customer's id, instead of one per customer. A
-- statement that changes many customers' keys took one lock per customer, and the lock table
-- is shared by all sessions (max_locks_per_transaction × max_connections entries: 6,400 by
-- PostgreSQL's defaults): removing a user who owned ~13,000 customers or more failed with "out of
-- shared memory". Now no statement takes more than 1,024 of these locks. A writer of one
-- customer may wait for a change of another customer of its bucket: as short as that change.
-- The order of the locks (taken sorted, each side in a statement of its own) is unchanged.

-- Writers in flight took the old keys: wait for them, and hold new ones until this commits.
LOCK TABLE customers, interactions IN SHARE MODE;

CREATE OR REPLACE FUNCTION rapport_customer_segments_lock(ws uuid, customer uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended('rapport customer segments ' || ws::text || ' '
                            || (hashtextextended(customer::text, 0) & 1023)::text, 0)
$$;
