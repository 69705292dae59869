-- What a POST answered, by the caller's Idempotency-Key (shared/kit/src/http/idempotency.rs):
-- the same key and request again answer the stored response; a request still in flight
-- holds the row (status NULL) until `locked_until`. Kept for a day, then removed by the
-- retention worker.
CREATE TABLE idempotency_keys (
    caller          TEXT        NOT NULL,
    key             TEXT        NOT NULL,
    request_hash    BYTEA       NOT NULL,
    status          SMALLINT,
    content_type    TEXT,
    location        TEXT,
    body            BYTEA,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys USING brin (created_at);
