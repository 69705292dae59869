-- When the checkout was last requested, and how often: the watchdog re-sends the
-- request for carts pending past the deadline.
ALTER TABLE carts ADD COLUMN checkout_requested_at TIMESTAMPTZ;
ALTER TABLE carts ADD COLUMN checkout_requests INTEGER NOT NULL DEFAULT 0;
CREATE INDEX carts_pending_since ON carts (checkout_requested_at) WHERE status = 'checkout_pending';
