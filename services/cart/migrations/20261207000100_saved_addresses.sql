-- Each customer's saved address, copied from customer.created / customer.updated, for
-- a checkout that names none. `as_of` is the event's occurred_at: an older event never
-- overwrites a newer one (a NULL address records that the customer removed theirs).
CREATE TABLE saved_addresses (
    customer_id UUID        PRIMARY KEY,
    address     JSONB,
    as_of       TIMESTAMPTZ NOT NULL
);
