-- Cart's own copy of the catalog, kept from product.changed (and filled from product's
-- list when empty at start-up): adding to a cart reads the price here, not from product.
-- `version` is the catalog version of the entry's last change; an older one is ignored.
CREATE TABLE catalog (
    sku         TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL,
    price_cents BIGINT      NOT NULL CHECK (price_cents >= 0),
    active      BOOLEAN     NOT NULL,
    version     BIGINT      NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
