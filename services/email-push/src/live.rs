//! Live fan-out: one LISTEN connection per process turns committed push messages into
//! broadcasts for the server-sent-event streams. NOTIFY is delivered on commit only,
//! and to every instance.

use crate::store::{self, PUSH_CHANNEL, Push};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Live {
    pushes: broadcast::Sender<Push>,
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
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    /// Listens until shutdown, reconnecting after a lost connection.
    pub async fn listen(self, pool: PgPool, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(err) = self.listen_once(&pool, &shutdown).await {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "push/email listener failed; reconnecting"
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }

    async fn listen_once(&self, pool: &PgPool, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(PUSH_CHANNEL).await?;
        loop {
            let notification = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                n = listener.recv() => n?,
            };
            let push = match serde_json::from_str::<Push>(notification.payload()) {
                Ok(push) => Some(push),
                // Too long for a NOTIFY payload: announced by id, read here.
                Err(_) => match notification.payload().parse() {
                    Ok(id) => store::push(pool, id).await?,
                    Err(_) => None,
                },
            };
            if let Some(push) = push {
                // No receivers is fine: nobody is watching that inbox live.
                let _ = self.pushes.send(push);
            }
        }
    }
}
