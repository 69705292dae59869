//! After the checkout: the order's status changes (shipped, delivered).

use crate::{Event, Topic};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// order → notification: the order moved to `shipped` or `delivered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderStatusChanged {
    pub order_id: Uuid,
    pub cart_id: Uuid,
    pub customer_id: Uuid,
    pub status: String,
}

/// `order.shipped`: same body as every status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct OrderShipped(pub OrderStatusChanged);

/// `order.delivered`: same body as every status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct OrderDelivered(pub OrderStatusChanged);

event!(OrderShipped, Topic::OrderShipped, |e| e.0.order_id);
event!(OrderDelivered, Topic::OrderDelivered, |e| e.0.order_id);
