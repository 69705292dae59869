-- `available` can be sold; `reserved` is held for confirmed orders. A reservation
-- moves units from one to the other; a cancellation moves them back. Neither can go
-- below zero: the CHECKs are the last line of defence against overselling.
CREATE TABLE stock_items (
    sku                 TEXT        PRIMARY KEY,
    available           INTEGER     NOT NULL CHECK (available >= 0),
    reserved            INTEGER     NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    low_stock_threshold INTEGER     NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One reservation per checkout (cart). Releasing it is what returns stock, and it can
-- be released once: that is what makes a cancellation return stock exactly once.
CREATE TABLE reservations (
    cart_id     UUID        PRIMARY KEY,
    customer_id UUID        NOT NULL,
    items       JSONB       NOT NULL,
    status      TEXT        NOT NULL CHECK (status IN ('reserved', 'released')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    released_at TIMESTAMPTZ
);
