//! A webhook receiver under the test's control, on loopback: an independent Standard
//! Webhooks verifier (its own HMAC-SHA256, not the crate that signs) that answers the
//! verification call, deduplicates by `webhook-id` as docs/webhooks.md tells receivers
//! to, counts copies and forgeries, and can be told to fail or hang.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};

/// What a receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 204.
    Ok,
    /// 500 with a short body (`nope, not today`).
    Fail,
    /// Never answers.
    Hang,
}

/// One message as received (its first copy).
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub body: Value,
    /// Per `v1` signature in the header, the index of the known secret it verifies
    /// with (`None`: none of them).
    pub signatures: Vec<Option<usize>>,
}

#[derive(Default)]
pub struct Inbox {
    /// In order of first arrival.
    pub messages: Vec<Received>,
    /// Copies of a `webhook-id` already received.
    pub copies: usize,
    /// Calls answered, copies and failures included.
    pub calls: usize,
    /// Calls with a missing or stale timestamp, or no valid signature.
    pub forged: usize,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub inbox: Arc<Mutex<Inbox>>,
    behaviour: Arc<Mutex<Behaviour>>,
    /// The secrets this receiver was given, oldest first.
    secrets: Arc<Mutex<Vec<String>>>,
}

/// HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the base64 after `whsec_`, as
/// the specification defines it, in base64.
pub fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Ownership check: echo the challenge (the secret is not known yet).
    if json["type"] == "webhook.verification" {
        return (
            StatusCode::OK,
            json!({ "challenge": json["challenge"] }).to_string(),
        );
    }
    let behaviour = *r.behaviour.lock().unwrap();
    if behaviour == Behaviour::Hang {
        std::future::pending::<()>().await;
    }
    let secrets = r.secrets.lock().unwrap().clone();
    let signatures: Vec<Option<usize>> = signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .map(|given| {
            secrets
                .iter()
                .position(|secret| expected_signature(secret, &id, &timestamp, &body) == given)
        })
        .collect();
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (Utc::now().timestamp() - t).abs() <= 300);
    let mut inbox = r.inbox.lock().unwrap();
    inbox.calls += 1;
    if !fresh || id.is_empty() || !signatures.iter().any(Option::is_some) {
        inbox.forged += 1;
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    if behaviour == Behaviour::Fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, "nope, not today".into());
    }
    if inbox.messages.iter().any(|m| m.id == id) {
        inbox.copies += 1;
    } else {
        inbox.messages.push(Received {
            id,
            body: json,
            signatures,
        });
    }
    (StatusCode::NO_CONTENT, String::new())
}

impl Receiver {
    /// Listens on a free loopback port until the test's runtime ends.
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/hooks", listener.local_addr().unwrap()),
            inbox: Default::default(),
            behaviour: Arc::new(Mutex::new(behaviour)),
            secrets: Default::default(),
        };
        let app = Router::new()
            .route("/hooks", post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    pub fn behave(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Gives the receiver a secret (from a subscription or a rotation).
    pub fn knows(&self, secret: &str) {
        self.secrets.lock().unwrap().push(secret.to_string());
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().messages.clone()
    }

    /// The ids received, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.messages().into_iter().map(|m| m.id).collect();
        ids.sort();
        ids
    }

    /// Waits (with the usual deadline) until at least `n` messages arrived.
    pub async fn has(&self, n: usize) -> Vec<Received> {
        crate::eventually(&format!("{n} messages at {}", self.url), || async {
            let messages = self.messages();
            (messages.len() >= n).then_some(messages)
        })
        .await
    }
}
