-- One payment per checkout. The checkout id makes the provider's idempotency key of
-- the authorization, so however often `stock-available` arrives, and whatever the
-- crashes and time-outs, the provider authorizes a checkout at most once.
--
-- A status ending in -ing is work for the provider worker (worker.rs): the consumed
-- event records what must happen in its own transaction, the worker calls the provider
-- and records the answer with the event it causes. The provider is never called while
-- a consumer's transaction is open.
CREATE TABLE payments (
    id               UUID        PRIMARY KEY,
    checkout_id      UUID        NOT NULL UNIQUE,
    cart_id          UUID        NOT NULL,
    customer_id      UUID        NOT NULL,
    order_id         UUID,
    amount_cents     BIGINT      NOT NULL CHECK (amount_cents >= 0),
    currency         TEXT        NOT NULL,
    -- The provider's payment method token: the most cartflow stores of a card.
    payment_method   TEXT,
    status           TEXT        NOT NULL CHECK (status IN (
                         'authorizing', 'authorized', 'declined',
                         'capturing', 'captured', 'voiding', 'voided',
                         'refunding', 'refunded', 'abandoned', 'failed')),
    intent_id        TEXT,
    card_brand       TEXT,
    card_last4       TEXT        CHECK (card_last4 ~ '^[0-9]{4}$'),
    decline_code     TEXT,
    -- The checkout was given up while its authorization was out: void it on arrival.
    void_requested   BOOLEAN     NOT NULL DEFAULT false,
    -- The order was cancelled while its capture was out: refund it once captured.
    refund_requested BOOLEAN     NOT NULL DEFAULT false,
    captured_cents   BIGINT      NOT NULL DEFAULT 0 CHECK (captured_cents >= 0),
    refunded_cents   BIGINT      NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    attempts         INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error       TEXT,
    -- What the order needs from the authorization's announcement.
    expires_at       TIMESTAMPTZ,
    items            JSONB       NOT NULL,
    shipping_address JSONB,
    -- The event that asked for the pending work, and its trace: what the worker's
    -- provider call and announcement continue.
    caused_by        TEXT,
    traceparent      TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_due ON payments (next_attempt_at)
    WHERE status IN ('authorizing', 'capturing', 'voiding', 'refunding');
CREATE INDEX payments_by_order ON payments (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX payments_by_customer ON payments (customer_id, created_at DESC);
