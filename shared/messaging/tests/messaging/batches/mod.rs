//! Batched consumption (one transaction per batch, a savepoint per message) against
//! real PostgreSQL and, where redelivery matters, the real emulator: what a poison
//! message, a duplicate and a failed commit do to the rest of their batch.
//!
//! The tests are in `savepoints` (failing messages roll back alone; a batch without
//! failures takes the fast path), `one_call` (a batch applied with one call of its
//! handler, and one by one after a failure) and `commit` (a failed commit).

mod commit;
mod one_call;
mod savepoints;

use cartflow_events::{Envelope, OrderRequested};
use cartflow_messaging::consumer::Delivery;
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

/// A message as Pub/Sub would deliver it.
struct Raw {
    message_id: String,
    attributes: HashMap<String, String>,
    data: Vec<u8>,
}

impl Raw {
    fn of(envelope: &Envelope, request: &OrderRequested) -> Raw {
        Raw {
            message_id: Uuid::new_v4().to_string(),
            attributes: envelope.to_attributes(),
            data: serde_json::to_vec(request).unwrap(),
        }
    }

    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            message_id: &self.message_id,
            attributes: &self.attributes,
            data: &self.data,
            attempt: Some(1),
        }
    }
}

async fn runs_of(pool: &PgPool, event_id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM handled WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Replies staged in the outbox as caused by this event, in its saga.
async fn replies_caused_by(pool: &PgPool, envelope: &Envelope) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox
         WHERE attributes ->> 'causation_id' = $1 AND attributes ->> 'correlation_id' = $2",
    )
    .bind(envelope.event_id.to_string())
    .bind(&envelope.correlation_id)
    .fetch_one(pool)
    .await
    .unwrap()
}
