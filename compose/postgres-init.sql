-- One database per service (the compose file mounts this into PostgreSQL's init
-- directory; it runs once, on an empty data volume). Kept in step with
-- terraform/topology.json by scripts/check-infra.sh.
CREATE DATABASE cartflow_order;
CREATE DATABASE cartflow_product;
CREATE DATABASE cartflow_inventory;
CREATE DATABASE cartflow_notification;
CREATE DATABASE cartflow_email_push;
CREATE DATABASE cartflow_cart;
CREATE DATABASE cartflow_customer;
CREATE DATABASE cartflow_payment;
