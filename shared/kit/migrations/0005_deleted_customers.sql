-- Customers deleted at the customer service, as each customer-facing service learns of
-- it (customer.deleted, or the customer service's own DELETE): sign-in refuses their
-- tokens from then on (shared/kit/src/auth/deleted.rs). One row per deleted account,
-- kept: a deleted account stays deleted, and the table grows only with deletions.
CREATE TABLE deleted_customers (
    customer_id UUID        PRIMARY KEY,
    deleted_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
