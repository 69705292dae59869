CREATE TABLE carts (
    id          UUID        PRIMARY KEY,
    customer_id UUID        NOT NULL,
    status      TEXT        NOT NULL
                CHECK (status IN ('open', 'checkout_pending', 'converted', 'stock_unavailable')),
    order_id    UUID,
    rejection   JSONB,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- A customer shops in at most one cart at a time: every cart but converted ones.
CREATE UNIQUE INDEX carts_one_active_per_customer ON carts (customer_id) WHERE status <> 'converted';
CREATE INDEX carts_latest_per_customer ON carts (customer_id, created_at DESC);

CREATE TABLE cart_items (
    cart_id          UUID        NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_sku      TEXT        NOT NULL,
    quantity         INTEGER     NOT NULL CHECK (quantity > 0),
    -- Price snapshot taken from the product service when the line was added.
    unit_price_cents BIGINT      NOT NULL CHECK (unit_price_cents >= 0),
    added_at         TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (cart_id, product_sku)
);
