//! Every saga outcome reaches the customer by email and by push, exactly once, through
//! real SMTP and the live push stream.
//!
//! The tests are in `outcomes` (every outcome told once, a push live within a second)
//! and `recipients` (the address used, SMTP down and back, low stock to the stock
//! manager, customers validated).

mod outcomes;
mod recipients;

use crate::helpers::TestApp;
use cartflow_events::Channel;
use notification_service::domain::{Kind, Status};
use std::collections::HashMap;
use uuid::Uuid;

/// (kind, channel) → status of the customer's notifications.
async fn by_kind(app: &TestApp, customer: Uuid) -> HashMap<(Kind, Channel), Vec<Status>> {
    let mut kinds: HashMap<(Kind, Channel), Vec<Status>> = HashMap::new();
    for n in app.notifications(customer).await {
        kinds.entry((n.kind, n.channel)).or_default().push(n.status);
    }
    kinds
}
