-- Failed attempts to consume a message, kept outside the rolled-back transaction so
-- that an operator can see what keeps failing and why. A message that later succeeds
-- also appears in processed_messages; one that does not ends in the dead-letter topic.
CREATE TABLE message_failures (
    -- The event id, or the Pub/Sub message id when the envelope could not be read.
    failure_key     TEXT        NOT NULL,
    service         TEXT        NOT NULL,
    event_id        UUID,
    event_type      TEXT,
    correlation_id  TEXT,
    message_id      TEXT        NOT NULL,
    attempts        INTEGER     NOT NULL DEFAULT 1,
    -- 'rejected' (can never succeed) or 'failing' (may succeed on a retry).
    kind            TEXT        NOT NULL CHECK (kind IN ('rejected', 'failing')),
    last_error      TEXT        NOT NULL,
    first_failed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_failed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (failure_key, service)
);
CREATE INDEX message_failures_by_saga ON message_failures (correlation_id);
