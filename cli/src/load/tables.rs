//! The plumbing tables under load: pre-filling them (to see whether inserts and
//! checkouts slow down as they grow, and retention working through the aged half) and
//! reading their sizes before and after a run.

use cartflow_events::Service;
use cartflow_kit::config::database_url_for;
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

/// Adds `rows` rows to each service's inbox and outbox (published): half of them past
/// every retention window (30 days old), half inside it (1 day old).
pub async fn prefill(server_url: &str, rows: u64) -> anyhow::Result<()> {
    let half = (rows / 2) as i64;
    for service in Service::ALL {
        let pool = connect(server_url, service).await?;
        eprintln!("pre-filling {service}: {rows} inbox and {rows} outbox rows, half aged");
        for age in ["30 days", "1 day"] {
            sqlx::query(
                "INSERT INTO processed_messages (event_id, service, event_type, correlation_id, processed_at)
                 SELECT gen_random_uuid(), $3, 'prefill', 'prefill', now() - $2::interval
                 FROM generate_series(1, $1)",
            )
            .bind(half)
            .bind(age)
            .bind(service.name())
            .execute(&pool)
            .await?;
            sqlx::query(
                "INSERT INTO outbox (event_id, topic, ordering_key, attributes, payload, created_at, published_at)
                 SELECT gen_random_uuid(), 'prefill', 'prefill', '{}', '{}', now() - $2::interval, now() - $2::interval
                 FROM generate_series(1, $1)",
            )
            .bind(half)
            .bind(age)
            .execute(&pool)
            .await?;
        }
        sqlx::query("ANALYZE processed_messages, outbox")
            .execute(&pool)
            .await?;
        pool.close().await;
    }
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
