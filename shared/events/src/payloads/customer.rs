//! Customers' contact details, as the customer service publishes them.

use super::ShippingAddress;
use crate::{Event, Topic};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A customer's contact details as the customer service holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct CustomerDetails {
    pub customer_id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    /// Where the customer's orders go when a checkout names no address. Absent from
    /// events written before customers had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<ShippingAddress>,
}

/// customer → notification, cart: a customer was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct CustomerCreated(pub CustomerDetails);

/// customer → notification, cart: a customer's details changed (the whole new record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct CustomerUpdated(pub CustomerDetails);

/// customer → notification: a customer was deleted; forget their details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CustomerDeleted {
    pub customer_id: Uuid,
}

event!(CustomerCreated, Topic::CustomerCreated, |e| e.0.customer_id);
event!(CustomerUpdated, Topic::CustomerUpdated, |e| e.0.customer_id);
event!(CustomerDeleted, Topic::CustomerDeleted, |e| e.customer_id);
