//! Without a browser: the console answers its own host names only, marks its cookie
//! `Secure` over https, and logs the operator its token signed in.

use super::TOKEN;
use crate::helpers::browser::{start_console, start_console_with};
use crate::helpers::{assert_problem, spawn_app_with};
use cartflow::console::Operators;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Without a browser: the console answers under its own names only (another site's
/// name rebound to its address gets 421), marks its cookie `Secure` when its public URL
/// is https, and logs a replay with the operator the token signed in, whatever name
/// was typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_answers_its_own_host_only_and_logs_the_signed_in_operator() {
    const ANN: &str = "ann-personal-token-0123456789";
    const BO: &str = "bo-personal-token-0123456789";
    let app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN)]).await;
    let console = start_console_with(&app, |settings| {
        settings.public_url = Some("https://console.example".parse().unwrap());
        settings.operators = Operators::Accounts {
            admin_token: TOKEN.into(),
            accounts: vec![
                ("Ann Admin".into(), ANN.into()),
                ("Bo Boss".into(), BO.into()),
            ],
        };
    })
    .await;
    let http = reqwest::Client::new();
    let port = console.url.rsplit(':').next().unwrap().to_string();
    let status_under = |host: String| {
        let request = http.get(format!("{}/", console.url)).header("host", host);
        async move { request.send().await.unwrap().status() }
    };
    for host in ["evil.example".to_string(), format!("evil.example:{port}")] {
        assert_eq!(
            status_under(host.clone()).await,
            StatusCode::MISDIRECTED_REQUEST,
            "{host}"
        );
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "console.example".into(),
    ] {
        assert_eq!(status_under(host.clone()).await, StatusCode::OK, "{host}");
    }

    let sign_in = |operator: &str, token: &str| {
        http.post(format!("{}/api/session", console.url))
            .json(&json!({ "operator": operator, "token": token }))
            .send()
    };
    // Ann's token under Bo's name, or the admin token itself: refused.
    assert_problem(
        sign_in("Bo Boss", ANN).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_problem(
        sign_in("Ann Admin", TOKEN).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let signed_in = sign_in("Ann Admin", ANN).await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let as_ann = |request: reqwest::RequestBuilder| request.header("cookie", &session).send();

    let listed: Value = as_ann(http.get(format!("{}/api/dead-letters", console.url)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subscription = listed["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "inventory")
        .map(|s| s["subscription"].clone())
        .unwrap_or_else(|| panic!("inventory's dead letters: {listed}"));
    let replay = json!({
        "service": "inventory", "subscription": subscription, "event_ids": [Uuid::new_v4()]
    });
    let replayed = as_ann(
        http.post(format!("{}/api/dead-letters/replay", console.url))
            .json(&replay),
    )
    .await
    .unwrap();
    assert_eq!(replayed.status(), StatusCode::OK);
    let log: Value = as_ann(http.get(format!("{}/api/replays", console.url)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["replays"][0]["operator"], "Ann Admin", "{log}");
}

/// A console of one's own logs its one operator: a sign-in under another name is
/// refused, and over plain http the cookie is not `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_of_ones_own_signs_in_its_operator_only() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", TOKEN)]).await;
    let console = start_console(&app).await;
    let http = reqwest::Client::new();
    let sign_in = |body: Value| {
        http.post(format!("{}/api/session", console.url))
            .json(&body)
            .send()
    };
    let typed = sign_in(json!({ "operator": "Mallory", "token": TOKEN }))
        .await
        .unwrap();
    assert_problem(typed, StatusCode::UNAUTHORIZED).await;
    let signed_in = sign_in(json!({ "token": TOKEN })).await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!cookie.contains("Secure"), "{cookie}");
    let who: Value = signed_in.json().await.unwrap();
    assert_eq!(who["operator"], crate::helpers::browser::OPERATOR);
}
