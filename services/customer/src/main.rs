#[tokio::main]
async fn main() -> std::process::ExitCode {
    cartflow_kit::runtime::main(customer_service::CustomerApp::from_env).await
}
