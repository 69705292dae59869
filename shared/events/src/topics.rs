use crate::Service;
use std::fmt;

/// Every topic of the saga. The string is both the topic name and the `event_type`
/// attribute of the events it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    OrderRequested,
    StockAvailable,
    StockRejected,
    OrderCreated,
    OrderCancelled,
    OrderShipped,
    OrderDelivered,
    CustomerCreated,
    CustomerUpdated,
    CustomerDeleted,
    LowStock,
    DeliveryRequested,
    DeliveryResult,
    CheckoutExpireRequested,
    CheckoutExpired,
    ProductChanged,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentCaptured,
    PaymentRefunded,
}

impl Topic {
    pub const ALL: [Topic; 20] = [
        Topic::OrderRequested,
        Topic::StockAvailable,
        Topic::StockRejected,
        Topic::OrderCreated,
        Topic::OrderCancelled,
        Topic::OrderShipped,
        Topic::OrderDelivered,
        Topic::CustomerCreated,
        Topic::CustomerUpdated,
        Topic::CustomerDeleted,
        Topic::LowStock,
        Topic::DeliveryRequested,
        Topic::DeliveryResult,
        Topic::CheckoutExpireRequested,
        Topic::CheckoutExpired,
        Topic::ProductChanged,
        Topic::PaymentAuthorized,
        Topic::PaymentDeclined,
        Topic::PaymentCaptured,
        Topic::PaymentRefunded,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Topic::OrderRequested => "order-requested",
            Topic::StockAvailable => "stock-available",
            Topic::StockRejected => "stock.rejected",
            Topic::OrderCreated => "order.created",
            Topic::OrderCancelled => "order.cancelled",
            Topic::OrderShipped => "order.shipped",
            Topic::OrderDelivered => "order.delivered",
            Topic::CustomerCreated => "customer.created",
            Topic::CustomerUpdated => "customer.updated",
            Topic::CustomerDeleted => "customer.deleted",
            Topic::LowStock => "inventory.low-stock",
            Topic::DeliveryRequested => "delivery.requested",
            Topic::DeliveryResult => "delivery.result",
            Topic::CheckoutExpireRequested => "checkout.expire-requested",
            Topic::CheckoutExpired => "checkout.expired",
            Topic::ProductChanged => "product.changed",
            Topic::PaymentAuthorized => "payment.authorized",
            Topic::PaymentDeclined => "payment.declined",
            Topic::PaymentCaptured => "payment.captured",
            Topic::PaymentRefunded => "payment.refunded",
        }
    }

    /// The one service that publishes this topic. Terraform grants publish rights
    /// from this, so a service can only ever emit its own events.
    pub const fn publisher(self) -> Service {
        match self {
            Topic::OrderRequested | Topic::CheckoutExpireRequested => Service::Cart,
            Topic::StockAvailable | Topic::StockRejected | Topic::LowStock => Service::Inventory,
            Topic::OrderCreated
            | Topic::OrderCancelled
            | Topic::OrderShipped
            | Topic::OrderDelivered
            | Topic::CheckoutExpired => Service::Order,
            Topic::CustomerCreated | Topic::CustomerUpdated | Topic::CustomerDeleted => {
                Service::Customer
            }
            Topic::DeliveryRequested => Service::Notification,
            Topic::DeliveryResult => Service::EmailPush,
            Topic::ProductChanged => Service::Product,
            Topic::PaymentAuthorized
            | Topic::PaymentDeclined
            | Topic::PaymentCaptured
            | Topic::PaymentRefunded => Service::Payment,
        }
    }

    pub fn from_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
