-- A checkout is paid for: the cart keeps the payment method token (never card data)
-- and the shipping address of its pending checkout, so that a request sent again
-- (the watchdog) carries them too. A declined payment unlocks the cart like a
-- stock rejection.
ALTER TABLE carts ADD COLUMN checkout_payment_method TEXT;
ALTER TABLE carts ADD COLUMN checkout_shipping_address JSONB;
ALTER TABLE carts DROP CONSTRAINT carts_status_check;
ALTER TABLE carts ADD CONSTRAINT carts_status_check
    CHECK (status IN ('open', 'checkout_pending', 'converted', 'stock_unavailable',
                      'checkout_expired', 'payment_declined'));
