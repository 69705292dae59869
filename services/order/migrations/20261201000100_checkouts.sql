-- Checkout attempts. An order belongs to one checkout (a cart checked out again after
-- a rejection or an expiry gets a new id); orders from before ids existed use their
-- cart id. Order is the arbiter of every checkout: it either creates its order or
-- records it here as given up, never both (both are decided under one lock per
-- checkout, see handlers.rs).
ALTER TABLE orders ADD COLUMN checkout_id UUID;
UPDATE orders SET checkout_id = cart_id;
ALTER TABLE orders ALTER COLUMN checkout_id SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_one_per_checkout UNIQUE (checkout_id);

-- Given-up checkouts: a tombstone that a late `stock-available` finds.
CREATE TABLE expired_checkouts (
    checkout_id UUID        PRIMARY KEY,
    cart_id     UUID        NOT NULL,
    customer_id UUID        NOT NULL,
    items       JSONB       NOT NULL,
    expired_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
