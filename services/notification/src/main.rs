#[tokio::main]
async fn main() -> std::process::ExitCode {
    cartflow_kit::runtime::main(notification_service::NotificationApp::from_env).await
}
