-- Whose email it is, so that a customer can list their own and nobody else's. Emails
-- queued before this column (and those to staff) have none and are staff-only.
ALTER TABLE emails ADD COLUMN customer_id UUID;
CREATE INDEX emails_by_customer ON emails (customer_id, created_at DESC)
    WHERE customer_id IS NOT NULL;
