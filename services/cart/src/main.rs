#[tokio::main]
async fn main() -> std::process::ExitCode {
    cartflow_kit::runtime::main(cart_service::CartApp::from_env).await
}
