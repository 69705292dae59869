-- Where a customer's orders go when a checkout names no address (SPEC, "Payment").
ALTER TABLE customers ADD COLUMN address JSONB;
