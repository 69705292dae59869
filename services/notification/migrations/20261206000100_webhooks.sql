-- Outgoing webhooks (docs/webhooks.md). Endpoints staff subscribed; one delivery per
-- (endpoint, event), written in the transaction that consumed the event; one attempt
-- row per HTTP call.
CREATE TABLE webhook_endpoints (
    id                         UUID        PRIMARY KEY,
    url                        TEXT        NOT NULL,
    description                TEXT,
    events                     TEXT[]      NOT NULL,
    status                     TEXT        NOT NULL CHECK (status IN ('active', 'paused')),
    paused_reason              TEXT,
    -- `whsec_` + base64. Needed in clear to sign; never logged nor shown after creation
    -- or rotation.
    secret                     TEXT        NOT NULL,
    -- The secret before the last rotation, also signed with until it expires.
    previous_secret            TEXT,
    previous_secret_expires_at TIMESTAMPTZ,
    failing_since              TIMESTAMPTZ,
    last_success_at            TIMESTAMPTZ,
    created_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              UUID        PRIMARY KEY,
    -- The order of queueing, to break ties of `occurred_at`.
    seq             BIGINT      GENERATED ALWAYS AS IDENTITY,
    endpoint_id     UUID        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        UUID        NOT NULL,
    event_type      TEXT        NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    -- The exact bytes sent (and signed) on every attempt.
    body            TEXT        NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'delivered', 'parked')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Taken by a worker until then (a crashed worker's delivery is retried after it).
    locked_until    TIMESTAMPTZ,
    last_status_code INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
-- Each endpoint's queue, in event order: the worker takes the head of each.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, occurred_at, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (updated_at)
    WHERE status <> 'pending';

CREATE TABLE webhook_attempts (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   UUID        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    started_at    TIMESTAMPTZ NOT NULL,
    latency_ms    INTEGER     NOT NULL,
    status_code   INTEGER,
    response_head TEXT,
    error         TEXT
);
CREATE INDEX webhook_attempts_of ON webhook_attempts (delivery_id, started_at);
