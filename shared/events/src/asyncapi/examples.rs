//! Each topic's payload type, with one real value of it: the document's schema comes
//! from the type and its example from serialising the value, so a schema that does not
//! describe what the type writes fails the tests. The match is exhaustive: a new topic
//! does not compile until it has its type and example here.

use super::Payload;
use crate::payloads::*;
use crate::{Sku, Topic};
use chrono::{DateTime, Utc};
use schemars::SchemaGenerator;
use uuid::Uuid;

// Fixed ids and times, so the generated document is the same on every run.
const CART: Uuid = Uuid::from_u128(0x0f8e_2c1a_4b5d_4e6f_8a9b_0c1d_2e3f_4a5b);
const CHECKOUT: Uuid = Uuid::from_u128(0x1a2b_3c4d_5e6f_4a0b_8c1d_2e3f_4a5b_6c7d);
const CUSTOMER: Uuid = Uuid::from_u128(0x2b3c_4d5e_6f7a_4b1c_9d2e_3f4a_5b6c_7d8e);
const ORDER: Uuid = Uuid::from_u128(0x3c4d_5e6f_7a8b_4c2d_8e3f_4a5b_6c7d_8e9f);
const PAYMENT: Uuid = Uuid::from_u128(0x4d5e_6f7a_8b9c_4d3e_9f4a_5b6c_7d8e_9fa0);
const NOTIFICATION: Uuid = Uuid::from_u128(0x5e6f_7a8b_9cad_4e4f_8a5b_6c7d_8e9f_a0b1);
const PUSH_NOTIFICATION: Uuid = Uuid::from_u128(0x6f7a_8b9c_adbe_4f5a_9b6c_7d8e_9fa0_b1c2);

fn expires_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).expect("a valid timestamp")
}

fn sku(text: &str) -> Sku {
    Sku::parse(text).expect("a valid SKU")
}

fn items() -> Vec<LineItem> {
    vec![
        LineItem {
            product_sku: sku("KB-101"),
            quantity: 2,
            unit_price_cents: 4999,
        },
        LineItem {
            product_sku: sku("MS-7"),
            quantity: 1,
            unit_price_cents: 2500,
        },
    ]
}

fn address() -> ShippingAddress {
    ShippingAddress {
        name: "Jane Doe".into(),
        line1: "1 Main St".into(),
        line2: None,
        city: "Springfield".into(),
        postal_code: "12345".into(),
        country: "US".into(),
    }
}

fn card() -> CardSummary {
    CardSummary {
        brand: "visa".into(),
        last4: "4242".into(),
    }
}

fn status(status: &str) -> OrderStatusChanged {
    OrderStatusChanged {
        order_id: ORDER,
        cart_id: CART,
        customer_id: CUSTOMER,
        status: status.into(),
    }
}

fn customer() -> CustomerDetails {
    CustomerDetails {
        customer_id: CUSTOMER,
        name: "Jane Doe".into(),
        email: "jane@example.com".into(),
        phone: Some("+15555550100".into()),
        address: Some(address()),
    }
}

/// The saga an example event belongs to, as the services set `correlation_id`: the cart
/// for the checkout and everything that follows from it, the SKU for the catalog and
/// stock alerts, the customer for their record.
pub(super) fn correlation(topic: Topic) -> String {
    match topic {
        Topic::ProductChanged | Topic::LowStock => sku("KB-101").into_string(),
        Topic::CustomerCreated | Topic::CustomerUpdated | Topic::CustomerDeleted => {
            CUSTOMER.to_string()
        }
        _ => CART.to_string(),
    }
}

/// The payload of `topic`: its type's schema (added to `generator`) and an example.
pub(super) fn payload(topic: Topic, generator: &mut SchemaGenerator) -> Payload {
    let g = generator;
    let total = total_cents(&items());
    match topic {
        Topic::OrderRequested => Payload::of(
            g,
            OrderRequested {
                cart_id: CART,
                checkout_id: Some(CHECKOUT),
                expires_at: Some(expires_at()),
                customer_id: CUSTOMER,
                items: items(),
                payment_method: Some("pm_card_visa".into()),
                shipping_address: Some(address()),
            },
        ),
        Topic::StockAvailable => Payload::of(
            g,
            StockAvailable {
                cart_id: CART,
                checkout_id: Some(CHECKOUT),
                expires_at: Some(expires_at()),
                customer_id: CUSTOMER,
                items: items(),
                payment_method: Some("pm_card_visa".into()),
                total_cents: Some(total),
                shipping_address: Some(address()),
            },
        ),
        Topic::StockRejected => Payload::of(
            g,
            StockRejected {
                cart_id: CART,
                checkout_id: Some(CHECKOUT),
                customer_id: CUSTOMER,
                reason: INSUFFICIENT_STOCK.into(),
                details: vec![Shortage {
                    product_sku: sku("KB-101"),
                    requested: 2,
                    available: 1,
                }],
            },
        ),
        Topic::OrderCreated => Payload::of(
            g,
            OrderCreated {
                order_id: ORDER,
                cart_id: CART,
                checkout_id: Some(CHECKOUT),
                customer_id: CUSTOMER,
                items: items(),
                total_cents: total,
                shipping_address: Some(address()),
            },
        ),
        Topic::OrderCancelled => Payload::of(
            g,
            OrderCancelled {
                order_id: ORDER,
                cart_id: CART,
                checkout_id: Some(CHECKOUT),
                customer_id: CUSTOMER,
                items: items(),
                reason: "customer_request".into(),
            },
        ),
        Topic::OrderShipped => Payload::of(g, OrderShipped(status("shipped"))),
        Topic::OrderDelivered => Payload::of(g, OrderDelivered(status("delivered"))),
        Topic::CustomerCreated => Payload::of(g, CustomerCreated(customer())),
        Topic::CustomerUpdated => Payload::of(g, CustomerUpdated(customer())),
        Topic::CustomerDeleted => Payload::of(
            g,
            CustomerDeleted {
                customer_id: CUSTOMER,
            },
        ),
        Topic::LowStock => Payload::of(
            g,
            LowStock {
                product_sku: sku("KB-101"),
                available: 3,
                threshold: 5,
            },
        ),
        Topic::DeliveryRequested => Payload::of(
            g,
            DeliveryRequested {
                customer_id: Some(CUSTOMER),
                subject: "Your order is confirmed".into(),
                deliveries: vec![
                    Delivery {
                        notification_id: NOTIFICATION,
                        channel: Channel::Email,
                        recipient: "jane@example.com".into(),
                        body: "Thank you for your order.\n\nYour order of 2 items: 4,500 cents."
                            .into(),
                    },
                    Delivery {
                        notification_id: PUSH_NOTIFICATION,
                        channel: Channel::Push,
                        recipient: CUSTOMER.to_string(),
                        body: "Thank you for your order.".into(),
                    },
                ],
            },
        ),
        Topic::DeliveryResult => Payload::of(
            g,
            DeliveryResult {
                outcomes: vec![
                    DeliveryOutcome {
                        notification_id: NOTIFICATION,
                        channel: Channel::Email,
                        delivered: true,
                        attempts: 1,
                        error: None,
                    },
                    DeliveryOutcome {
                        notification_id: PUSH_NOTIFICATION,
                        channel: Channel::Push,
                        delivered: true,
                        attempts: 1,
                        error: None,
                    },
                ],
            },
        ),
        Topic::CheckoutExpireRequested => Payload::of(
            g,
            CheckoutExpireRequested {
                checkout_id: CHECKOUT,
                cart_id: CART,
                customer_id: CUSTOMER,
                items: items(),
            },
        ),
        Topic::CheckoutExpired => Payload::of(
            g,
            CheckoutExpired {
                checkout_id: CHECKOUT,
                cart_id: CART,
                customer_id: CUSTOMER,
                items: items(),
            },
        ),
        Topic::ProductChanged => Payload::of(
            g,
            ProductChanged {
                sku: sku("KB-101"),
                name: "Mechanical keyboard".into(),
                price_cents: 4999,
                active: true,
                version: 42,
            },
        ),
        Topic::PaymentAuthorized => Payload::of(
            g,
            PaymentAuthorized {
                checkout_id: CHECKOUT,
                cart_id: CART,
                customer_id: CUSTOMER,
                payment_id: PAYMENT,
                amount_cents: total,
                expires_at: Some(expires_at()),
                items: items(),
                shipping_address: Some(address()),
                card: Some(card()),
            },
        ),
        Topic::PaymentDeclined => Payload::of(
            g,
            PaymentDeclined {
                checkout_id: CHECKOUT,
                cart_id: CART,
                customer_id: CUSTOMER,
                reason: "card_declined".into(),
                decline_code: Some("insufficient_funds".into()),
                items: items(),
            },
        ),
        Topic::PaymentCaptured => Payload::of(
            g,
            PaymentCaptured {
                payment_id: PAYMENT,
                order_id: ORDER,
                checkout_id: CHECKOUT,
                customer_id: CUSTOMER,
                amount_cents: total,
                card: Some(card()),
            },
        ),
        Topic::PaymentRefunded => Payload::of(
            g,
            PaymentRefunded {
                payment_id: PAYMENT,
                order_id: ORDER,
                checkout_id: CHECKOUT,
                customer_id: CUSTOMER,
                amount_cents: total,
            },
        ),
    }
}
