CREATE TABLE customers (
    id         UUID        PRIMARY KEY,
    name       TEXT        NOT NULL,
    -- Stored normalised (trimmed, lower case): the unique index is case-insensitive.
    email      TEXT        NOT NULL UNIQUE,
    phone      TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
