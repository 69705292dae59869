-- Every change to the catalog takes the next number from one sequence: product.changed
-- carries it, and a consumer keeps the highest it has seen per SKU. One sequence for
-- every SKU, so a SKU deleted and created again still moves forward.
CREATE SEQUENCE product_versions;
ALTER TABLE products ADD COLUMN version BIGINT NOT NULL DEFAULT nextval('product_versions');
