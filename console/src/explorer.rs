//! The checkout explorer: find a checkout by cart, order, customer or event id, and
//! show its saga across every service (the timeline `cartflow timeline` prints), with
//! each step's time from the start, each hop's latency, and each event's message.
//!
//! Finding it: a cart id is the saga's correlation id; an event id is looked up in the
//! services' event logs; an order id and a customer id through order's API (as staff).

use super::Console;
use super::services::Caller;
use crate::timeline::{self, Entry};
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use cartflow_events::Service;
use cartflow_kit::http::{ApiError, ApiResult};
use cartflow_messaging::event_log;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// Most sagas shown for one customer: their newest checkouts, then their own events.
const MOST_SAGAS: usize = 10;

pub fn router() -> Router<Console> {
    Router::new().route("/api/checkouts/{id}", get(explore))
}

#[derive(Debug, Serialize)]
struct Found {
    query: Uuid,
    /// What the id turned out to be: `cart`, `event`, `order` or `customer`.
    matched: &'static str,
    sagas: Vec<Saga>,
}

#[derive(Debug, Serialize)]
struct Saga {
    /// The saga's correlation id: a cart id for a checkout, a customer id for the
    /// customer's own events.
    correlation_id: String,
    steps: Vec<Step>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Step {
    #[serde(flatten)]
    pub entry: Entry,
    /// Milliseconds since the saga's first step.
    pub offset_ms: f64,
    /// For a consumption: milliseconds from the event's publication (its outbox row)
    /// to this service's processing of it.
    pub hop_ms: Option<f64>,
}

async fn explore(
    State(console): State<Console>,
    Path(raw): Path<String>,
) -> ApiResult<Json<Found>> {
    let id: Uuid = raw.trim().parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "'{}' is not an id: cart, order, customer and event ids are UUIDs",
            raw.trim()
        ))
    })?;
    let (matched, correlation_ids) = resolve(&console, id).await?;
    let databases = &console.inner.settings.databases;
    let mut sagas = Vec::new();
    for correlation_id in correlation_ids {
        let entries = timeline::collect(&databases.server_url, &databases.prefix, &correlation_id)
            .await
            .map_err(ApiError::Internal)?;
        if !entries.is_empty() {
            sagas.push(Saga {
                correlation_id,
                steps: steps(entries),
            });
        }
    }
    if sagas.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no checkout found for {id}: no service knows it as a cart, order, customer or event id"
        )));
    }
    Ok(Json(Found {
        query: id,
        matched,
        sagas,
    }))
}

/// Which sagas `id` names, tried as an event id, an order id, a customer id (their
/// carts' checkouts, newest first, then their own events), and last as a saga's
/// correlation id itself (a cart id).
async fn resolve(console: &Console, id: Uuid) -> ApiResult<(&'static str, Vec<String>)> {
    let databases = &console.inner.settings.databases;
    for service in Service::ALL {
        let Ok(Some(pool)) = databases.open(service).await else {
            continue;
        };
        let saga = event_log::correlation_of(&pool, id).await?;
        pool.close().await;
        if let Some(saga) = saga {
            return Ok(("event", vec![saga]));
        }
    }
    let services = &console.inner.services;
    let order = services
        .get(Service::Order, &format!("/orders/{id}"), Caller::Staff)
        .await?;
    if order.is_success()
        && let Some(cart) = order.body["cart_id"].as_str()
    {
        return Ok(("order", vec![cart.to_string()]));
    }
    let mut carts: Vec<String> = Vec::new();
    let cart = services
        .get(Service::Cart, "/cart", Caller::Customer(id))
        .await?;
    if cart.is_success()
        && let Some(current) = cart.body["id"].as_str()
    {
        carts.push(current.to_string());
    }
    let orders = services
        .get_all(
            Service::Order,
            &format!("/orders?customer_id={id}"),
            Caller::Staff,
        )
        .await?;
    if orders.is_success() {
        let mut listed: Vec<&serde_json::Value> =
            orders.body.as_array().into_iter().flatten().collect();
        listed.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
        for cart in listed.iter().filter_map(|o| o["cart_id"].as_str()) {
            if !carts.iter().any(|c| c == cart) {
                carts.push(cart.to_string());
            }
        }
    }
    if !carts.is_empty() {
        carts.truncate(MOST_SAGAS - 1);
        carts.push(id.to_string());
        return Ok(("customer", carts));
    }
    Ok(("cart", vec![id.to_string()]))
}

/// The timeline with times relative to its start and per-hop latencies.
pub fn steps(entries: Vec<Entry>) -> Vec<Step> {
    let start = entries.first().map(|e| e.at);
    let published: HashMap<Uuid, chrono::DateTime<chrono::Utc>> = entries
        .iter()
        .filter(|e| e.what == "published")
        .filter_map(|e| Some((e.event_id?, e.at)))
        .collect();
    let millis = |d: chrono::TimeDelta| d.num_microseconds().unwrap_or(0) as f64 / 1000.0;
    entries
        .into_iter()
        .map(|entry| {
            let hop_ms = match entry.what {
                "consumed" => entry
                    .event_id
                    .and_then(|id| published.get(&id))
                    .map(|at| millis(entry.at - *at)),
                _ => None,
            };
            Step {
                offset_ms: start.map(|s| millis(entry.at - s)).unwrap_or(0.0),
                hop_ms,
                entry,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ms: i64, service: &str, what: &'static str, event: Uuid) -> Entry {
        Entry {
            at: chrono::DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap(),
            service: service.into(),
            what,
            event_type: "order-requested".into(),
            event_id: Some(event),
            detail: String::new(),
            message: None,
        }
    }

    #[test]
    fn steps_measure_from_the_start_and_each_hop_from_its_publication() {
        let (requested, other) = (Uuid::new_v4(), Uuid::new_v4());
        let steps = steps(vec![
            entry(0, "cart", "published", requested),
            entry(12, "inventory", "consumed", requested),
            entry(15, "order", "consumed", other),
        ]);
        let offsets: Vec<f64> = steps.iter().map(|s| s.offset_ms).collect();
        assert_eq!(offsets, [0.0, 12.0, 15.0]);
        assert_eq!(steps[0].hop_ms, None, "a publication is no hop");
        assert_eq!(steps[1].hop_ms, Some(12.0));
        assert_eq!(steps[2].hop_ms, None, "its publication is not in this saga");
    }
}
