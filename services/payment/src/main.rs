#[tokio::main]
async fn main() -> std::process::ExitCode {
    cartflow_kit::runtime::main(payment_service::PaymentApp::from_env).await
}
