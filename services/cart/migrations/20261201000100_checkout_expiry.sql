-- Checkout attempts and their expiry. Every convert starts a checkout with its own id;
-- past checkout_expires_at the watchdog asks order (the arbiter) to give it up, and
-- `checkout.expired` unlocks the cart as checkout_expired. A cart pending from before
-- ids existed keeps its cart id as checkout id and expires like a new one.
ALTER TABLE carts ADD COLUMN checkout_id UUID;
ALTER TABLE carts ADD COLUMN checkout_expires_at TIMESTAMPTZ;
UPDATE carts SET checkout_id = id, checkout_expires_at = now() + interval '5 minutes'
 WHERE status = 'checkout_pending';
ALTER TABLE carts DROP CONSTRAINT carts_status_check;
ALTER TABLE carts ADD CONSTRAINT carts_status_check
    CHECK (status IN ('open', 'checkout_pending', 'converted', 'stock_unavailable', 'checkout_expired'));
