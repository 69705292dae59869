//! Order's reaction to `stock-available`: create the order, announce `order.created`.

use crate::store;
use async_trait::async_trait;
use cartflow_events::{OrderCreated, StockAvailable, Topic, total_cents};
use cartflow_messaging::{EventHandler, HandlerError, Incoming, Tx};

pub struct OrderHandler;

#[async_trait]
impl EventHandler for OrderHandler {
    async fn handle(&self, tx: &mut Tx, event: &Incoming) -> Result<(), HandlerError> {
        match event.topic() {
            Some(Topic::StockAvailable) => create_order(tx, event, event.decode()?).await,
            _ => Err(event.unexpected()),
        }
    }
}

async fn create_order(
    tx: &mut Tx,
    event: &Incoming,
    reserved: StockAvailable,
) -> Result<(), HandlerError> {
    if reserved.items.is_empty()
        || reserved
            .items
            .iter()
            .any(|i| i.quantity <= 0 || i.unit_price_cents < 0)
    {
        return Err(HandlerError::Poison(
            "stock-available with empty or invalid lines".into(),
        ));
    }
    let total = total_cents(&reserved.items);
    let created = store::create(
        tx.conn(),
        reserved.cart_id,
        reserved.customer_id,
        &reserved.items,
        total,
    )
    .await?;
    let Some(order_id) = created else {
        tracing::warn!(cart_id = %reserved.cart_id, "cart already has an order; ignoring");
        return Ok(());
    };
    let created = OrderCreated {
        order_id,
        cart_id: reserved.cart_id,
        customer_id: reserved.customer_id,
        items: reserved.items,
        total_cents: total,
    };
    tx.publish(&event.cause(), &created).await?;
    tracing::info!(%order_id, cart_id = %created.cart_id, total_cents = total, "order confirmed");
    Ok(())
}
