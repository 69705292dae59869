-- Payment runs beside the reservation: inventory and payment answer a checkout's
-- request side by side, in either order. Order keeps the first answer here until the
-- other comes; the second makes the order and takes the row away (both under the
-- checkout's lock, see handlers.rs). A checkout that ends without its order (short
-- stock, a declined card) leaves its one answer behind.
CREATE TABLE checkout_answers (
    checkout_id    UUID        PRIMARY KEY,
    -- inventory said `stock-available`
    stock_reserved BOOLEAN     NOT NULL DEFAULT false,
    -- payment said `payment.authorized`: the event, which the order is made from
    authorized     JSONB,
    answered_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
