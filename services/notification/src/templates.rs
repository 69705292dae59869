//! What each notification says. Pure functions of the event's facts, so every message
//! carries the order id, the lines, the total or the rejection details.

use cartflow_events::{
    CardSummary, CheckoutExpired, LineItem, LowStock, OrderCancelled, OrderCreated,
    OrderStatusChanged, PaymentCaptured, PaymentDeclined, PaymentRefunded, StockRejected,
    total_cents,
};
use std::fmt::Write;

pub use crate::domain::{Kind, Message};

/// `1999` → `$19.99`. Integer arithmetic only.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}${}.{:02}", cents / 100, cents % 100)
}

fn lines(items: &[LineItem]) -> String {
    let mut out = String::new();
    for item in items {
        let _ = writeln!(
            out,
            "  {} x {} @ {} = {}",
            item.quantity,
            item.product_sku,
            money(item.unit_price_cents),
            money(item.line_total_cents())
        );
    }
    out
}

fn greeting(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("Hi {name},"),
        None => "Hello,".into(),
    }
}

pub fn order_confirmed(e: &OrderCreated, name: Option<&str>) -> Message {
    Message {
        kind: Kind::OrderConfirmed,
        subject: format!("Order {} confirmed", e.order_id),
        body: format!(
            "Your order {} is confirmed: {}.\n\n{}\n\n{}Total: {}\n{}",
            e.order_id,
            money(e.total_cents),
            greeting(name),
            lines(&e.items),
            money(e.total_cents),
            e.shipping_address
                .as_ref()
                .map(|a| format!("Ships to: {}\n", a.one_line()))
                .unwrap_or_default()
        ),
    }
}

pub fn stock_rejected(e: &StockRejected, name: Option<&str>) -> Message {
    let mut details = String::new();
    for d in &e.details {
        let _ = writeln!(
            details,
            "  {}: you asked for {}, we have {}",
            d.product_sku, d.requested, d.available
        );
    }
    Message {
        kind: Kind::StockRejected,
        subject: "We could not place your order".into(),
        body: format!(
            "Some items in your cart are not available ({}); nothing was charged and your cart {} is open to edit.\n\n{}\n\n{details}",
            e.reason,
            e.cart_id,
            greeting(name)
        ),
    }
}

pub fn checkout_expired(e: &CheckoutExpired, name: Option<&str>) -> Message {
    Message {
        kind: Kind::CheckoutExpired,
        subject: "We could not complete your checkout".into(),
        body: format!(
            "Your checkout took too long and was stopped; nothing was ordered or charged, and your cart {} is open to edit or check out again.\n\n{}\n\n{}Total: {}\n",
            e.cart_id,
            greeting(name),
            lines(&e.items),
            money(total_cents(&e.items))
        ),
    }
}

pub fn order_cancelled(e: &OrderCancelled, name: Option<&str>) -> Message {
    let total: i64 = e.items.iter().map(LineItem::line_total_cents).sum();
    Message {
        kind: Kind::OrderCancelled,
        subject: format!("Order {} cancelled", e.order_id),
        body: format!(
            "Your order {} was cancelled: {}.\n\n{}\n\n{}Total: {}\n",
            e.order_id,
            e.reason,
            greeting(name),
            lines(&e.items),
            money(total)
        ),
    }
}

pub fn order_status(e: &OrderStatusChanged, name: Option<&str>) -> Message {
    let (kind, verb) = match e.status.as_str() {
        "shipped" => (Kind::OrderShipped, "is on its way"),
        _ => (Kind::OrderDelivered, "has been delivered"),
    };
    Message {
        kind,
        subject: format!("Order {} {}", e.order_id, e.status),
        body: format!("Your order {} {verb}.\n\n{}\n", e.order_id, greeting(name)),
    }
}

/// A card as a receipt names it: `visa ending 4242`.
fn card(card: Option<&CardSummary>) -> String {
    match card {
        Some(c) => format!("{} ending {}", c.brand, c.last4),
        None => "your payment method".into(),
    }
}

pub fn payment_declined(e: &PaymentDeclined, name: Option<&str>) -> Message {
    let why = match e.decline_code.as_deref() {
        Some("insufficient_funds") => "the card has insufficient funds".to_string(),
        Some(code) => format!("the card was declined ({code})"),
        None => format!("the payment could not be made ({})", e.reason),
    };
    Message {
        kind: Kind::PaymentDeclined,
        subject: "Your payment was declined".into(),
        body: format!(
            "We could not take payment for your order: {why}. Nothing was charged, and your cart {} is open: check out again with another payment method.\n\n{}\n\n{}Total: {}\n",
            e.cart_id,
            greeting(name),
            lines(&e.items),
            money(total_cents(&e.items))
        ),
    }
}

pub fn payment_receipt(e: &PaymentCaptured, name: Option<&str>) -> Message {
    Message {
        kind: Kind::PaymentReceipt,
        subject: format!("Receipt for order {}", e.order_id),
        body: format!(
            "We charged {} to {} for your order {}.\n\n{}\n\nPayment {}\n",
            money(e.amount_cents),
            card(e.card.as_ref()),
            e.order_id,
            greeting(name),
            e.payment_id
        ),
    }
}

pub fn payment_refunded(e: &PaymentRefunded, name: Option<&str>) -> Message {
    Message {
        kind: Kind::PaymentRefunded,
        subject: format!("Refund for order {}", e.order_id),
        body: format!(
            "We refunded {} for your cancelled order {}. It reaches your account in a few days.\n\n{}\n\nPayment {}\n",
            money(e.amount_cents),
            e.order_id,
            greeting(name),
            e.payment_id
        ),
    }
}

pub fn low_stock(e: &LowStock) -> Message {
    Message {
        kind: Kind::LowStock,
        subject: format!("Low stock: {}", e.product_sku),
        body: format!(
            "{} is down to {} available (threshold {}). Time to reorder.\n",
            e.product_sku, e.available, e.threshold
        ),
    }
}

/// To staff: an endpoint was paused after failing since `since`.
pub fn webhook_paused(
    endpoint_id: uuid::Uuid,
    url: &str,
    since: chrono::DateTime<chrono::Utc>,
    last_error: &str,
) -> Message {
    Message {
        kind: Kind::WebhookPaused,
        subject: format!("Webhook endpoint paused: {url}"),
        body: format!(
            "Every call to {url} (endpoint {endpoint_id}) has failed since {since}; the last: \
             {last_error}.\nIts events keep queueing. Fix the receiver, then resume the \
             endpoint (POST /webhooks/{endpoint_id}/resume) to deliver them in order.\n",
            since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartflow_events::Shortage;
    use uuid::Uuid;

    #[test]
    fn money_is_exact() {
        assert_eq!(money(0), "$0.00");
        assert_eq!(money(5), "$0.05");
        assert_eq!(money(123456), "$1234.56");
        assert_eq!(money(-250), "-$2.50");
    }

    #[test]
    fn confirmation_carries_id_lines_and_total() {
        let e = OrderCreated {
            order_id: Uuid::nil(),
            cart_id: Uuid::nil(),
            checkout_id: None,
            customer_id: Uuid::nil(),
            items: vec![LineItem {
                product_sku: cartflow_events::Sku::parse("KB-1").unwrap(),
                quantity: 2,
                unit_price_cents: 1250,
            }],
            total_cents: 2500,
            shipping_address: None,
        };
        let m = order_confirmed(&e, Some("Ann"));
        assert!(m.subject.contains(&Uuid::nil().to_string()));
        assert!(m.body.starts_with("Your order"));
        assert!(m.body.contains("Hi Ann,"));
        assert!(m.body.contains("2 x KB-1 @ $12.50 = $25.00"));
        assert!(m.body.contains("Total: $25.00"));
    }

    #[test]
    fn rejection_lists_every_shortage() {
        let e = StockRejected {
            cart_id: Uuid::nil(),
            checkout_id: None,
            customer_id: Uuid::nil(),
            reason: "insufficient_stock".into(),
            details: vec![Shortage {
                product_sku: cartflow_events::Sku::parse("LP-1").unwrap(),
                requested: 5,
                available: 2,
            }],
        };
        let m = stock_rejected(&e, None);
        assert!(m.body.contains("LP-1: you asked for 5, we have 2"));
        assert!(m.body.contains("Hello,"));
    }

    #[test]
    fn an_expiry_says_nothing_was_ordered_and_names_the_cart() {
        let cart_id = Uuid::new_v4();
        let e = CheckoutExpired {
            checkout_id: Uuid::new_v4(),
            cart_id,
            customer_id: Uuid::nil(),
            items: vec![LineItem {
                product_sku: cartflow_events::Sku::parse("KB-1").unwrap(),
                quantity: 3,
                unit_price_cents: 1000,
            }],
        };
        let m = checkout_expired(&e, Some("Eve"));
        assert_eq!(m.kind, Kind::CheckoutExpired);
        let first_line = m.body.lines().next().unwrap();
        assert!(
            first_line.contains("nothing was ordered"),
            "push text: {first_line}"
        );
        assert!(m.body.contains(&cart_id.to_string()));
        assert!(m.body.contains("3 x KB-1 @ $10.00 = $30.00"));
        assert!(m.body.contains("Total: $30.00"));
    }
}
