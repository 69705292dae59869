//! Live fan-out: one LISTEN connection per process turns committed push messages into
//! broadcasts for the server-sent-event streams, and wakes the email sender when an
//! email is queued. NOTIFY is delivered on commit only, and to every instance.

use crate::store::{self, EMAIL_CHANNEL, PUSH_CHANNEL, Push};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Live {
    pushes: broadcast::Sender<Push>,
    email_queued: Arc<Notify>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    pub fn new() -> Self {
        Live {
            pushes: broadcast::channel(1024).0,
            email_queued: Arc::new(Notify::new()),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    pub async fn email_queued(&self) {
        self.email_queued.notified().await
    }

    /// Listens until shutdown, reconnecting (and waking the sender, in case it missed
    /// something) after a lost connection.
    pub async fn listen(self, pool: PgPool, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(err) = self.listen_once(&pool, &shutdown).await {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "push/email listener failed; reconnecting"
                );
                self.email_queued.notify_one();
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }

    async fn listen_once(&self, pool: &PgPool, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen_all([PUSH_CHANNEL, EMAIL_CHANNEL]).await?;
        loop {
            let notification = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                n = listener.recv() => n?,
            };
            if notification.channel() == EMAIL_CHANNEL {
                self.email_queued.notify_one();
                continue;
            }
            let Ok(id) = notification.payload().parse() else {
                continue;
            };
            if let Some(push) = store::push(pool, id).await? {
                // No receivers is fine: nobody is watching that inbox live.
                let _ = self.pushes.send(push);
            }
        }
    }
}
