//! `cartflow payments reconcile`: the payment service's records against the
//! provider's ledger, as the payment service (which alone holds the provider's key)
//! compares them. Exits 5 when any difference is found.

use super::args::ServiceUrls;
use super::exit::Outcome;
use super::output::Output;
use cartflow_api::payment::Reconciliation;
use cartflow_events::Service;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Payments {
    /// Compare every payment record with the provider's ledger and list each
    /// difference (a settled payment whose intent disagrees, money the provider holds
    /// or took that no record knows); exits 5 when there is one. Payments still
    /// waiting for the provider are counted, not compared.
    #[command(after_help = "Examples:
  cartflow payments reconcile                        # the payment service on 127.0.0.1:3007
  cartflow payments reconcile --service-url payment=https://payment-xyz.a.run.app --token \"$(gcloud auth print-identity-token)\" -o json")]
    Reconcile {
        // Where the payment service answers (`payment=<url>`; default 127.0.0.1:3007).
        #[command(flatten)]
        services: ServiceUrls,
        /// A staff ID token (Google Cloud); without one the call says `X-Role: staff`,
        /// which only an emulator-backed stack accepts.
        #[arg(long, env = "CARTFLOW_STAFF_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[command(flatten)]
        output: Output,
    },
}

pub async fn run(command: Payments) -> anyhow::Result<()> {
    let Payments::Reconcile {
        services,
        token,
        output,
    } = command;
    let payment_url = services.url(Service::Payment);
    let url = format!(
        "{}/payments/reconciliation",
        payment_url.trim_end_matches('/')
    );
    let request = reqwest::Client::new().get(&url);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request.header("x-role", "staff"),
    };
    let response = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("no answer from the payment service at {payment_url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("the payment service answered {status}: {body}");
    }
    let report: Reconciliation = response.json().await?;
    if output.json() {
        Output::print_json(&report)?;
    } else {
        print!("{}", render(&report));
    }
    if !report.differences.is_empty() {
        return Err(Outcome::Difference(format!(
            "{} difference(s) between the payment records and the provider",
            report.differences.len()
        ))
        .into());
    }
    Ok(())
}

/// The report for a terminal: the counts, the nets, then one line per difference.
pub fn render(report: &Reconciliation) -> String {
    let mut out = format!(
        "compared {} settled payment(s) with {} provider intent(s); {} pending\nnet (captured - refunded): records {} cents, provider {} cents\n",
        report.compared,
        report.provider_intents,
        report.pending.len(),
        report.records_net_cents,
        report.provider_net_cents
    );
    if report.differences.is_empty() {
        out.push_str("no differences\n");
    }
    for d in &report.differences {
        let who = d
            .payment_id
            .map(|id| format!("payment {id}"))
            .or(d.intent_id.clone())
            .unwrap_or_default();
        out.push_str(&format!("DIFFERENCE {who}: {}\n", d.problem));
    }
    out
}

/// `cartflow gateway-sandbox`: the sandbox on `addr` until SIGINT or SIGTERM.
pub async fn serve_sandbox(addr: std::net::SocketAddr, slow_ms: u64) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding the payment sandbox on {addr}: {e}"))?;
    let settings = cartflow_gateway_sandbox::SandboxSettings {
        slow_ms,
        ..Default::default()
    };
    println!(
        "payment sandbox on http://{addr} (key: any sk_test_…; ledger: http://{addr}/sandbox/ledger)"
    );
    let stop = cartflow_kit::runtime::shutdown_on_signal();
    cartflow_gateway_sandbox::serve(listener, settings, async move { stop.cancelled().await })
        .await?;
    Ok(())
}
