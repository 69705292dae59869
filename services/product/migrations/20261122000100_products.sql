CREATE TABLE products (
    sku         TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL,
    description TEXT,
    price_cents BIGINT      NOT NULL CHECK (price_cents >= 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
