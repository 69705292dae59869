#[tokio::main]
async fn main() -> std::process::ExitCode {
    cartflow_kit::runtime::main(email_push_service::EmailPushApp::from_env).await
}
