-- An order is made only with a held authorization: it keeps the payment's id, and the
-- address it ships to (as the checkout gave it). Orders from before payment have none.
ALTER TABLE orders ADD COLUMN payment_id UUID;
ALTER TABLE orders ADD COLUMN shipping_address JSONB;
