#[tokio::main]
async fn main() -> std::process::ExitCode {
    cartflow_kit::runtime::main(product_service::ProductApp::from_env).await
}
