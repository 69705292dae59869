//! The payment gateway sandbox as `dev`, `stack` and the tests run it: in this
//! process, beside the services, unless `PAYMENT_PROVIDER_URL` names a real provider.

use cartflow_gateway_sandbox::{Sandbox, SandboxSettings};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

/// The key the payment service presents to the sandbox (any `sk_test_` key works).
pub const SANDBOX_KEY: &str = "sk_test_cartflow_sandbox";

/// A running sandbox; stops when dropped.
pub struct GatewaySandbox {
    addr: SocketAddr,
    sandbox: Sandbox,
    stop: CancellationToken,
}

impl GatewaySandbox {
    /// Starts a sandbox on `addr` (port 0: any free port).
    pub async fn start(addr: SocketAddr, settings: SandboxSettings) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("starting the payment sandbox on {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        let sandbox = Sandbox::new(settings);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let serving = sandbox.clone();
        tokio::spawn(async move {
            let shutdown = async move { stopped.cancelled().await };
            if let Err(e) =
                cartflow_gateway_sandbox::serve_sandbox(listener, serving, shutdown).await
            {
                tracing::error!(error = %e, "the payment sandbox stopped");
            }
        });
        Ok(GatewaySandbox {
            addr,
            sandbox,
            stop,
        })
    }

    /// On the sandbox's default port (12111, stripe-mock's) unless `PAYMENT_PROVIDER_URL`
    /// is set; points the payment service at it (URL and a test key) in `env`.
    pub async fn unless_configured(env: &mut cartflow_kit::Env) -> anyhow::Result<Option<Self>> {
        if env.get("PAYMENT_PROVIDER_URL").is_some() {
            return Ok(None);
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], cartflow_gateway_sandbox::DEFAULT_PORT));
        let sandbox = Self::start(addr, SandboxSettings::default()).await?;
        tracing::info!(url = %sandbox.url(), "payment sandbox (Stripe's PaymentIntents subset; test cards such as pm_card_visa)");
        sandbox.configure(env);
        Ok(Some(sandbox))
    }

    /// Points the payment service of `env` at this sandbox.
    pub fn configure(&self, env: &mut cartflow_kit::Env) {
        env.set("PAYMENT_PROVIDER_URL", self.url())
            .set("PAYMENT_PROVIDER_KEY", SANDBOX_KEY);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The ledger and the outage switch, in process.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl Drop for GatewaySandbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
