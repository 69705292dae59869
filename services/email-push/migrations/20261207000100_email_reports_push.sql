-- The push delivered beside this email by the same request, whose result the email's
-- first recorded attempt reports with its own (one `delivery.result` for both). Cleared
-- once reported; none for an email queued alone or before this column.
ALTER TABLE emails ADD COLUMN reports_push UUID;
