-- When the current checkout began (its convert): the convert → outcome latency of the
-- saga metrics. Re-sends move checkout_requested_at, never this.
ALTER TABLE carts ADD COLUMN checkout_started_at TIMESTAMPTZ;
