//! `GET /notifications` answers: what a notification is about, and how it went.

use cartflow_events::{Channel, string_enum};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

string_enum! {
    /// What a notification is about.
    pub enum Kind ("notification kind") {
        OrderConfirmed = "order_confirmed",
        PaymentDeclined = "payment_declined",
        PaymentReceipt = "payment_receipt",
        PaymentRefunded = "payment_refunded",
        StockRejected = "stock_rejected",
        CheckoutExpired = "checkout_expired",
        OrderCancelled = "order_cancelled",
        OrderShipped = "order_shipped",
        OrderDelivered = "order_delivered",
        LowStock = "low_stock",
        /// To staff: a webhook endpoint failed for too long and was paused.
        WebhookPaused = "webhook_paused",
        /// Sent by hand through `POST /notifications`.
        Manual = "manual",
    }
}

string_enum! {
    /// pending → sent, or pending → failed; failed at once when there is no address.
    pub enum Status ("notification status") {
        Pending = "pending",
        Sent = "sent",
        Failed = "failed",
    }
}

impl Status {
    /// The status a delivery result settles a pending notification in.
    pub fn settled(delivered: bool) -> Status {
        if delivered {
            Status::Sent
        } else {
            Status::Failed
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub kind: Kind,
    pub channel: Channel,
    pub recipient: Option<String>,
    pub subject: String,
    pub body: String,
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
