-- Reservations are per checkout attempt (a cart checked out again after a rejection or
-- an expiry gets a new id); rows from before ids existed use their cart id. A row also
-- records decisions that hold no stock, so that a request for the same checkout arriving
-- later (a re-send, or one delayed while inventory was down) is not decided again:
-- 'rejected' (the stock was short) and 'expired' (order gave the checkout up before any
-- request arrived: a late request reserves nothing).
ALTER TABLE reservations ADD COLUMN checkout_id UUID;
UPDATE reservations SET checkout_id = cart_id;
ALTER TABLE reservations ALTER COLUMN checkout_id SET NOT NULL;
ALTER TABLE reservations DROP CONSTRAINT reservations_pkey;
ALTER TABLE reservations ADD PRIMARY KEY (checkout_id);
CREATE INDEX reservations_by_cart ON reservations (cart_id);
ALTER TABLE reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE reservations ADD CONSTRAINT reservations_status_check
    CHECK (status IN ('reserved', 'released', 'rejected', 'expired'));
