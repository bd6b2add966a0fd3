-- RFM (src/analytics/rfm.rs) reads the customers with a purchase in each of its three orders —
-- recency, frequency, monetary, ties by id — from these indexes of the customer_activity
-- rollup: the summary finds each order's tile bounds in one pass without a sort, and one
-- customer's rank in an order is a count of the index entries below it.
CREATE INDEX customer_activity_recency_idx ON customer_activity (workspace_id, last_purchase_at, customer_id)
    WHERE purchases > 0;
CREATE INDEX customer_activity_frequency_idx ON customer_activity (workspace_id, purchases, customer_id)
    WHERE purchases > 0;
CREATE INDEX customer_activity_monetary_idx ON customer_activity (workspace_id, purchase_value, customer_id)
    WHERE purchases > 0;
