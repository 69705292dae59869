#[tokio::main]
async fn main() -> std::process::ExitCode {
    cartflow_kit::runtime::main(order_service::OrderApp::from_env).await
}
