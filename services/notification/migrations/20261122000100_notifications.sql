-- Contact details copied from customer events, so nothing is fetched at send time.
-- `version` is the occurred_at of the event that wrote the row: an older event never
-- overwrites a newer one, and a deletion stays a tombstone (delivery order is free).
CREATE TABLE contacts (
    customer_id UUID        PRIMARY KEY,
    name        TEXT        NOT NULL,
    email       TEXT,
    phone       TEXT,
    deleted     BOOLEAN     NOT NULL DEFAULT false,
    version     TIMESTAMPTZ NOT NULL
);

-- One row per channel per notification, with its delivery state.
CREATE TABLE notifications (
    id              UUID        PRIMARY KEY,
    customer_id     UUID,
    kind            TEXT        NOT NULL,
    channel         TEXT        NOT NULL CHECK (channel IN ('email', 'push')),
    recipient       TEXT,
    subject         TEXT        NOT NULL,
    body            TEXT        NOT NULL,
    status          TEXT        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    -- The event this notification tells about; NULL for manual ones.
    source_event_id UUID,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (source_event_id, channel)
);
CREATE INDEX notifications_by_customer ON notifications (customer_id, created_at DESC);
