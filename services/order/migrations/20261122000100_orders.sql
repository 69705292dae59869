-- One order per checkout: the unique cart_id makes order creation idempotent even if
-- `stock-available` for the same cart arrived under two event ids.
CREATE TABLE orders (
    id            UUID        PRIMARY KEY,
    cart_id       UUID        NOT NULL UNIQUE,
    customer_id   UUID        NOT NULL,
    status        TEXT        NOT NULL CHECK (status IN ('confirmed', 'shipped', 'delivered', 'cancelled')),
    total_cents   BIGINT      NOT NULL CHECK (total_cents >= 0),
    cancel_reason TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC);
CREATE INDEX orders_by_status ON orders (status, created_at DESC);

CREATE TABLE order_items (
    order_id         UUID    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    product_sku      TEXT    NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT  NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (order_id, line_no)
);
