#[tokio::main]
async fn main() -> std::process::ExitCode {
    cartflow_kit::runtime::main(inventory_service::InventoryApp::from_env).await
}
