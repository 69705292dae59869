//! Stock items, and the pure decision of whether a checkout can be reserved.
//!
//! [`stock`]: the stock rows and their limits; [`request`]: what a checkout asks for
//! and what is short; [`ruling`]: the decision on each checkout's request. All of it
//! is re-exported here (`crate::domain::...`).

pub mod request;
pub mod ruling;
pub mod stock;

pub use request::*;
pub use ruling::*;
pub use stock::*;

/// Builders the modules' tests share.
#[cfg(test)]
mod test_support {
    use cartflow_events::{LineItem, Sku};

    pub(super) fn sku(text: &str) -> Sku {
        Sku::parse(text).unwrap()
    }

    pub(super) fn line(text: &str, quantity: i32) -> LineItem {
        LineItem {
            product_sku: sku(text),
            quantity,
            unit_price_cents: 100,
        }
    }
}
