-- Retention (src/retention.rs): old rows are found by age without slowing inserts.
-- BRIN indexes fit append-only time columns: a few pages in size, and an insert only
-- widens a summary instead of adding a B-tree entry on the hot path.
CREATE INDEX processed_messages_by_age ON processed_messages USING brin (processed_at);
CREATE INDEX outbox_by_age ON outbox USING brin (created_at);

-- Set by retention once the failed event was processed after all; a resolved failure
-- is removed after its window, an unresolved one stays for the operator.
ALTER TABLE message_failures ADD COLUMN resolved_at TIMESTAMPTZ;
