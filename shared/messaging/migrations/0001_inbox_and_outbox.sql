-- The inbox: every event this service has consumed, recorded in the same transaction
-- as its effect. The primary key is what makes consumption idempotent.
CREATE TABLE processed_messages (
    event_id             UUID        NOT NULL,
    service              TEXT        NOT NULL,
    event_type           TEXT        NOT NULL,
    correlation_id       TEXT        NOT NULL,
    processed_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- How many later deliveries of the same event were recognised and skipped.
    duplicate_deliveries INTEGER     NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, service)
);

-- The outbox: events written in the same transaction as the change that causes them,
-- published afterwards by the relay. Published rows stay as a log of what was sent.
CREATE TABLE outbox (
    id             BIGSERIAL   PRIMARY KEY,
    event_id       UUID        NOT NULL UNIQUE,
    -- Short topic name; the deployment's prefix is applied when publishing.
    topic          TEXT        NOT NULL,
    ordering_key   TEXT        NOT NULL,
    attributes     JSONB       NOT NULL,
    payload        JSONB       NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at   TIMESTAMPTZ,
    publish_attempts INTEGER   NOT NULL DEFAULT 0,
    last_error     TEXT
);

-- The relay only ever looks for what is not yet published.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
