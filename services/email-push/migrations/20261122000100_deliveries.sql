-- Emails to send and sent. The consumer only records a request here (a short
-- transaction); the sender delivers it over SMTP outside any transaction, retrying with
-- backoff, so a slow or failing SMTP server never holds a connection or blocks others.
CREATE TABLE emails (
    id               UUID        PRIMARY KEY,
    notification_id  UUID        NOT NULL UNIQUE,
    recipient        TEXT        NOT NULL,
    subject          TEXT        NOT NULL,
    body             TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER     NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The saga and the request this email answers, for the result event.
    correlation_id   TEXT        NOT NULL,
    request_event_id UUID        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    sent_at          TIMESTAMPTZ
);
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'pending';
CREATE INDEX emails_by_recipient ON emails (recipient, created_at DESC);

-- Each customer's push inbox. Rows are announced with NOTIFY (on commit) to the live
-- server-sent-event streams.
CREATE TABLE push_messages (
    id              UUID        PRIMARY KEY,
    notification_id UUID        NOT NULL UNIQUE,
    customer_id     UUID        NOT NULL,
    title           TEXT        NOT NULL,
    body            TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX push_by_customer ON push_messages (customer_id, created_at DESC);
