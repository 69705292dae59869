//! The backstop: claiming, publishing and marking what nobody handed over, in one
//! transaction per batch.

use super::{DrainReport, OutgoingEvent, RelayCore};
use anyhow::Context;
use sqlx::Row;
use std::time::Duration;
use uuid::Uuid;

impl RelayCore {
    /// Publish-before-response: a sweep of re-queued rows, awaited.
    pub(crate) async fn sweep_now_inline(&self) {
        if let Err(err) = self.sweep(Duration::ZERO).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "outbox sweep failed; rows stay queued"
            );
        }
    }

    /// Sweeps until the table has nothing left for this process or a publish fails.
    pub(super) async fn sweep(&self, grace: Duration) -> anyhow::Result<DrainReport> {
        let mut total = DrainReport::default();
        loop {
            let pass = self.sweep_once(grace, None).await?;
            total.published += pass.published;
            total.failed += pass.failed;
            if pass.failed > 0 || pass.published < self.settings.batch_size as usize {
                return Ok(total);
            }
        }
    }

    /// Claims up to one batch of unpublished rows nobody here holds (of `only`, when
    /// given), publishes them, and records the outcome, all in one transaction.
    pub(super) async fn sweep_once(
        &self,
        grace: Duration,
        only: Option<&[Uuid]>,
    ) -> anyhow::Result<DrainReport> {
        let held: Vec<Uuid> = {
            let owned = self.owned.lock().expect("relay state poisoned");
            let handed_off = self
                .outbox
                .shared()
                .committed
                .lock()
                .expect("outbox hand-off poisoned");
            owned
                .iter()
                .copied()
                .chain(handed_off.iter().map(|e| e.event_id))
                .collect()
        };
        let mut tx = self.outbox.pool().begin().await?;
        let rows = sqlx::query(
            "SELECT id, event_id, topic, ordering_key, attributes, payload FROM outbox
             WHERE published_at IS NULL AND created_at <= now() - $2::interval
               AND event_id <> ALL($3) AND ($4::uuid[] IS NULL OR event_id = ANY($4))
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.settings.batch_size)
        .bind(grace)
        .bind(&held)
        .bind(only)
        .fetch_all(&mut *tx)
        .await
        .context("claiming outbox rows")?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(DrainReport::default());
        }
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            events.push(OutgoingEvent {
                event_id: row.get("event_id"),
                topic: row.get("topic"),
                ordering_key: row.get("ordering_key"),
                attributes: serde_json::from_value(row.get("attributes"))
                    .context("outbox attributes")?,
                payload: row.get("payload"),
            });
        }
        let results = self.publish(&events).await;
        let mut published = Vec::new();
        let mut report = DrainReport::default();
        for (row, result) in rows.iter().zip(results) {
            let id: i64 = row.get("id");
            match result {
                Ok(()) => published.push(id),
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(outbox_id = id, %error, "publish failed; will retry");
                    // The row stays unpublished and is retried on a later pass.
                    sqlx::query(
                        "UPDATE outbox SET publish_attempts = publish_attempts + 1, last_error = $2
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        sqlx::query(
            "UPDATE outbox SET published_at = now(), publish_attempts = publish_attempts + 1
             WHERE id = ANY($1)",
        )
        .bind(&published)
        .execute(&mut *tx)
        .await?;
        tx.commit()
            .await
            .context("recording published outbox rows")?;
        report.published = published.len();
        Ok(report)
    }
}
