//! `GET /orders` and the order routes' answers.

use cartflow_events::{LineItem, ShippingAddress};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

cartflow_events::string_enum! {
    pub enum OrderStatus ("order status") {
        Confirmed = "confirmed",
        Shipped = "shipped",
        Delivered = "delivered",
        Cancelled = "cancelled",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub cart_id: Uuid,
    /// The checkout attempt the order came from.
    pub checkout_id: Uuid,
    pub customer_id: Uuid,
    pub status: OrderStatus,
    pub items: Vec<LineItem>,
    pub total_cents: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The payment whose held authorization the order was made with (none for orders
    /// from before payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<Uuid>,
    /// Where the order goes, as the checkout said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddress>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
