//! The plumbing tables under load: pre-filling them (to see whether inserts and
//! checkouts slow down as they grow, and retention working through the aged half) and
//! reading their sizes before and after a run.

use cartflow_events::Service;
use cartflow_kit::config::database_url_for;
use cartflow_messaging::retention::RetentionSettings;
use serde::Serialize;
use std::collections::BTreeMap;

/// Rows and bytes of the inbox and outbox of one service's database.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TableSizes {
    pub processed_messages_rows: i64,
    pub outbox_rows: i64,
    /// Both tables with their indexes and TOAST.
    pub mib: f64,
}

async fn connect(server_url: &str, service: Service) -> anyhow::Result<sqlx::PgPool> {
    let url = database_url_for(server_url, &service.database_name()).map_err(anyhow::Error::msg)?;
    cartflow_kit::db::connect(&url, 1).await
}

/// Gathers fresh statistics in every service's database (`ANALYZE`). Analyzing a
/// table also makes every session re-plan its cached statements on it, so plans made
/// while the table was empty are dropped.
pub async fn analyze(server_url: &str) -> anyhow::Result<()> {
    for service in Service::ALL {
        let pool = connect(server_url, service).await?;
        sqlx::query("ANALYZE").execute(&pool).await?;
        pool.close().await;
    }
    Ok(())
}

/// Adds `rows` rows to each service's inbox and outbox (published), each the size of a
/// real one (an envelope's attributes, an order's payload): a soak deletes them while
/// traffic adds real rows, so smaller rows would make the tables grow by themselves.
/// Half are inside every retention window (1 day old), half past them (30 days old)
/// or, with `crossing`, spread so that they pass the default windows
/// (`RetentionSettings::default()`) one after another over the next `crossing`.
pub async fn prefill(
    server_url: &str,
    rows: u64,
    crossing: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    let half = (rows / 2) as i64;
    let windows = RetentionSettings::default();
    // The age in seconds of row `g` (1..=half) of the aged half, for a window of
    // `window`. Crossing rows are written oldest first, as traffic writes them, so the
    // rows that age out together sit together (random ages in one statement would
    // scatter every retention batch over the whole table).
    let aged = |window: std::time::Duration| match crossing {
        // Never younger than now: at most the whole window is spread.
        Some(over) => format!(
            "{} - (g::float8 / {half}) * {}",
            window.as_secs(),
            over.min(window).as_secs().max(1)
        ),
        None => (30 * 86_400).to_string(),
    };
    for service in Service::ALL {
        let pool = connect(server_url, service).await?;
        eprintln!("pre-filling {service}: {rows} inbox and {rows} outbox rows, half aged");
        for (inbox_age, outbox_age) in [
            (aged(windows.inbox), aged(windows.outbox)),
            ("86400".to_string(), "86400".to_string()),
        ] {
            // The ages are numbers (or `n - random() * m`) built here, not input.
            sqlx::query(&format!(
                "INSERT INTO processed_messages (event_id, service, event_type, correlation_id, processed_at)
                 SELECT gen_random_uuid(), $2, 'prefill.event', gen_random_uuid()::text,
                        now() - make_interval(secs => {inbox_age})
                 FROM generate_series(1, $1) AS g"
            ))
            .bind(half)
            .bind(service.name())
            .execute(&pool)
            .await?;
            sqlx::query(&format!(
                "INSERT INTO outbox (event_id, topic, ordering_key, attributes, payload, created_at, published_at)
                 SELECT id, 'prefill', cart::text,
                        jsonb_build_object('event_id', id::text, 'producer', 'prefill',
                            'event_type', 'prefill', 'occurred_at', t::text,
                            'causation_id', gen_random_uuid()::text, 'event_version', '1',
                            'correlation_id', cart::text),
                        jsonb_build_object('cart_id', cart::text,
                            'order_id', gen_random_uuid()::text,
                            'checkout_id', gen_random_uuid()::text,
                            'customer_id', gen_random_uuid()::text, 'total_cents', 2000,
                            'items', jsonb_build_array(
                                jsonb_build_object('quantity', 1, 'product_sku', 'PREFILL-0001', 'unit_price_cents', 1000),
                                jsonb_build_object('quantity', 1, 'product_sku', 'PREFILL-0002', 'unit_price_cents', 1000))),
                        t, t
                 FROM (SELECT gen_random_uuid() AS id, gen_random_uuid() AS cart,
                              now() - make_interval(secs => {outbox_age}) AS t
                       FROM generate_series(1, $1) AS g) AS rows"
            ))
            .bind(half)
            .execute(&pool)
            .await?;
        }
        // What autovacuum would do to the bulk load during the run, done before it.
        sqlx::query("VACUUM (ANALYZE) processed_messages, outbox")
            .execute(&pool)
            .await?;
        pool.close().await;
    }
    // And the bulk load's dirty pages written out before the run, where allowed (a
    // superuser or pg_checkpoint member); otherwise the run starts with them.
    let pool = connect(server_url, Service::Cart).await?;
    if let Err(err) = sqlx::query("CHECKPOINT").execute(&pool).await {
        eprintln!("no CHECKPOINT after the prefill ({err}); the run starts with its dirty pages");
    }
    pool.close().await;
    Ok(())
}

/// Each service's inbox and outbox, now.
pub async fn sizes(server_url: &str) -> anyhow::Result<BTreeMap<String, TableSizes>> {
    let mut all = BTreeMap::new();
    for service in Service::ALL {
        let pool = connect(server_url, service).await?;
        let (processed_messages_rows, outbox_rows, bytes): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM processed_messages), (SELECT count(*) FROM outbox),
                    pg_total_relation_size('processed_messages') + pg_total_relation_size('outbox')",
        )
        .fetch_one(&pool)
        .await?;
        pool.close().await;
        let mib = (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0;
        all.insert(
            service.name().to_string(),
            TableSizes {
                processed_messages_rows,
                outbox_rows,
                mib,
            },
        );
    }
    Ok(all)
}
