//! Typed bodies of every event. Field names are the wire format (JSON).
//! Money is integer minor units (`*_cents`); quantities are positive integers.
//!
//! One module per area of the platform; everything is re-exported here, so callers
//! name `cartflow_events::payloads::X` (or `cartflow_events::X`) whatever the module.

/// Implements [`crate::Event`] for a body: its topic and its ordering key. Defined
/// before the modules so that each registers its own events.
macro_rules! event {
    ($ty:ty, $topic:expr, |$e:ident| $key:expr) => {
        impl Event for $ty {
            const TOPIC: Topic = $topic;
            fn ordering_key(&self) -> String {
                let $e = self;
                $key.to_string()
            }
        }
    };
}

mod catalog;
mod checkout;
mod common;
mod customer;
mod notification;
mod payment;
mod shipping;

pub use catalog::*;
pub use checkout::*;
pub use common::*;
pub use customer::*;
pub use notification::*;
pub use payment::*;
pub use shipping::*;
