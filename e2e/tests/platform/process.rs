//! A service as its own process, as a container runs it: it listens on `PORT`, logs
//! JSON lines Cloud Logging can read, and exits cleanly on SIGTERM.

use crate::helpers::{TestInfra, eventually, free_port};
use cartflow_events::Service;
use cartflow_kit::databases;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_process_honours_port_logs_json_and_stops_cleanly_on_sigterm() {
    let infra = TestInfra::new().await;
    let settings = &infra.settings;
    databases::ensure(
        &settings.server_url,
        &settings.database_name(Service::Order),
    )
    .await
    .unwrap();
    let mut env = settings.service_env(Service::Order).unwrap();
    let port = free_port();
    env.remove("ORDER_PORT")
        .set("PORT", port.to_string())
        .set("LOG_FORMAT", "json")
        .set("RUST_LOG", "info");
    let mut child = Command::new(crate::helpers::cartflow_binary())
        .args(["serve", "order"])
        .envs(env.vars())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting cartflow serve order");

    let ready_url = format!("http://127.0.0.1:{port}/ready");
    eventually("the process answers /ready on PORT", || async {
        let response = reqwest::get(&ready_url).await.ok()?;
        response.status().is_success().then_some(())
    })
    .await;

    let pid = child.id().to_string();
    let signalled = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(signalled.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit after SIGTERM: {status}");

    let lines: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| {
            let line = line.unwrap();
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
        })
        .collect();
    let message = |text: &str| lines.iter().find(|l| l["message"] == text);
    let started = message("service started").expect("a 'service started' line");
    assert_eq!(started["severity"], "INFO");
    assert_eq!(
        started["addr"],
        format!("127.0.0.1:{port}"),
        "listening on PORT"
    );
    assert!(message("shutdown requested; finishing in-flight work").is_some());
    assert!(message("service stopped").is_some(), "{lines:#?}");
}
