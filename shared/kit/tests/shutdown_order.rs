//! Shutdown order: a service's own workers stop only once its consumers have finished
//! their last batches, so work a last batch hands over in memory (a payment step, an
//! email) is still taken up by this process instead of waiting for its claim. A real
//! service start on the emulator and PostgreSQL, with a handler that is slow on purpose.

use async_trait::async_trait;
use cartflow_events::{OrderRequested, Service};
use cartflow_kit::http::openapi::ApiRouter;
use cartflow_kit::runtime::Worker;
use cartflow_kit::{AppContext, Env, ServiceApp, ServiceConfig};
use cartflow_messaging::{AnyHandler, Batch, EventHandler, HandlerError, Incoming, Tx};
use cartflow_testkit::scratch::request_of;
use cartflow_testkit::{TestInfra, envelope_for, eventually};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What happened, in order.
type Log = Arc<Mutex<Vec<&'static str>>>;

/// Takes its time over each batch, so that one is in hand when the service is told to
/// stop.
struct SlowHandler {
    log: Log,
}

#[async_trait]
impl EventHandler for SlowHandler {
    type Message = OrderRequested;

    fn decode(&self, event: &Incoming) -> Result<OrderRequested, HandlerError> {
        event.decode()
    }

    async fn handle_batch(
        &self,
        tx: &mut Tx,
        _batch: &Batch<'_, OrderRequested>,
    ) -> Result<(), HandlerError> {
        self.log.lock().unwrap().push("batch started");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let log = self.log.clone();
        tx.after_commit(move || log.lock().unwrap().push("batch committed"));
        Ok(())
    }
}

/// A service (under inventory's name and subscriptions) with the slow handler and one
/// worker that notes when it is told to stop.
struct App {
    log: Log,
}

impl ServiceApp for App {
    const SERVICE: Service = Service::Inventory;

    fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate::Migrator::DEFAULT
    }

    fn router(&self, _ctx: AppContext) -> ApiRouter {
        ApiRouter::new()
    }

    fn handler(&self, _ctx: AppContext) -> Option<Arc<dyn AnyHandler>> {
        Some(Arc::new(SlowHandler {
            log: self.log.clone(),
        }))
    }

    fn workers(&self, ctx: AppContext) -> Vec<Worker> {
        let log = self.log.clone();
        vec![Box::pin(async move {
            ctx.shutdown.cancelled().await;
            log.lock().unwrap().push("worker stopped");
        })]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_stop_after_the_consumers_last_batch_has_committed() {
    let infra = TestInfra::new().await;
    let database = infra.database("shutdown", &App::migrator()).await;
    drop(database);
    let pubsub = infra.pubsub();
    let env = Env::from_pairs([
        (
            "INVENTORY_DATABASE_URL",
            cartflow_kit::config::database_url_for(
                &infra.server_url,
                &format!("{}shutdown", infra.database_prefix),
            )
            .unwrap(),
        ),
        (
            "PUBSUB_EMULATOR_HOST",
            pubsub.emulator_host.clone().unwrap(),
        ),
        ("PUBSUB_PROJECT_ID", pubsub.project_id.clone()),
        ("CARTFLOW_TOPIC_PREFIX", pubsub.topic_prefix.clone()),
        ("INVENTORY_PORT", "0".into()),
    ]);
    let config = ServiceConfig::from_env(Service::Inventory, &env).expect("settings");
    let log = Log::default();
    let stop = CancellationToken::new();
    let service = cartflow_kit::runtime::start(App { log: log.clone() }, config, stop.clone())
        .await
        .expect("the service starts");

    let request = request_of(Uuid::new_v4());
    infra
        .publish_raw(
            &envelope_for::<OrderRequested>(request.cart_id),
            &request,
            1,
        )
        .await;
    eventually("the batch to be in hand", || async {
        log.lock().unwrap().contains(&"batch started").then_some(())
    })
    .await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), service.stopped())
        .await
        .expect("the service stops")
        .expect("cleanly");
    assert_eq!(
        *log.lock().unwrap(),
        ["batch started", "batch committed", "worker stopped"],
        "the worker outlived the batch in hand"
    );
}
