//! The operator CLI against a running platform: `-o json` prints one JSON document on
//! the commands that read the stack, and the exit codes tell outcomes apart.

use crate::helpers::{cartflow_binary, spawn_app};
use serde_json::Value;

/// Runs `cartflow` against `app`'s databases and topics; returns exit code and stdout.
pub(crate) async fn run_cli(app: &crate::helpers::TestApp, args: &[&str]) -> (i32, String) {
    let settings = &app.infra.settings;
    let output = tokio::process::Command::new(cartflow_binary())
        .args(args)
        .env("DATABASE_URL", &settings.server_url)
        .env(
            "PUBSUB_EMULATOR_HOST",
            settings.pubsub.emulator_host.as_deref().unwrap(),
        )
        .env("PUBSUB_PROJECT_ID", &settings.pubsub.project_id)
        .env("CARTFLOW_TOPIC_PREFIX", &settings.pubsub.topic_prefix)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("running cartflow");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code().expect("an exit code"), stdout)
}

/// `-o json` prints one JSON document on the commands that read the stack, and an
/// unknown saga is "nothing found" (exit code 4), not a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_print_json_and_exit_4_on_nothing_found() {
    let app = spawn_app().await;
    let prefix = app.infra.settings.database_prefix.clone();
    let db = ["--database-prefix", prefix.as_str()];

    let (code, out) = run_cli(&app, &["provision", "-o", "json"]).await;
    assert_eq!(code, 0, "{out}");
    let report: Value = serde_json::from_str(&out).expect("provision -o json is JSON");
    assert!(
        report["existing"].as_array().is_some_and(|e| !e.is_empty()),
        "{report}"
    );

    let (code, out) = run_cli(&app, &[&["events", "list", "-o", "json"][..], &db].concat()).await;
    assert_eq!(code, 0, "{out}");
    let events: Value = serde_json::from_str(&out).expect("events list -o json is JSON");
    assert!(events["unresolved_failures"].is_array(), "{events}");

    let dead_letters = "inventory.order-requested.dead-letter";
    let (code, out) = run_cli(
        &app,
        &["dlq", "list", "--subscription", dead_letters, "-o", "json"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let listed: Value = serde_json::from_str(&out).expect("dlq list -o json is JSON");
    assert_eq!(listed[0]["messages"], serde_json::json!([]), "{listed}");

    let unknown = uuid::Uuid::new_v4().to_string();
    let (code, out) = run_cli(
        &app,
        &[&["timeline", unknown.as_str(), "-o", "json"][..], &db].concat(),
    )
    .await;
    assert_eq!(code, 4, "timeline of an unknown saga: {out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        serde_json::json!([])
    );
    app.stop().await;
}
