//! The catalog and its stock: product changes and low-stock alerts.

use crate::{Event, Sku, Topic};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// inventory → notification: available stock of a SKU fell to or below its
/// threshold. Sent once per crossing, not on every later sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LowStock {
    pub product_sku: Sku,
    pub available: i32,
    pub threshold: i32,
}

/// product → cart: a catalog entry as it is now, on every create, update and delete
/// (`active: false`). `version` grows with every change of any SKU (one sequence, so a
/// SKU deleted and created again still moves forward): a consumer keeps the highest it
/// has seen and ignores an older or repeated one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductChanged {
    pub sku: Sku,
    pub name: String,
    pub price_cents: i64,
    pub active: bool,
    pub version: i64,
}

event!(LowStock, Topic::LowStock, |e| e.product_sku.to_string());
event!(ProductChanged, Topic::ProductChanged, |e| e.sku.to_string());
