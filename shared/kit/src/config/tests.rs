use super::*;
use crate::auth::rate_limit::Limit;
use crate::push::PushAuth;
use std::time::Duration;

/// Sign-in settings every service needs outside the emulator.
const SIGN_IN: [(&str, &str); 3] = [
    ("AUTH_ISSUER", "https://issuer.example"),
    ("AUTH_AUDIENCE", "cartflow"),
    ("AUTH_JWKS_URL", "https://issuer.example/jwks"),
];

/// An environment with `pairs` and the sign-in settings (`pairs` win).
fn cloud<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
    Env::from_pairs(SIGN_IN.into_iter().chain(pairs))
}

#[test]
fn defaults_are_local() {
    let config = ServiceConfig::from_env(Service::Cart, &cloud([])).unwrap();
    assert_eq!(config.port, 3005);
    assert_eq!(
        config.database_url,
        "postgres://postgres@127.0.0.1:5432/cartflow_cart"
    );
    assert_eq!(config.pubsub.project_id, "cartflow-local");
    assert_eq!(config.pubsub.emulator_host, None);
}

#[test]
fn service_specific_names_win() {
    let env = cloud([
        ("PORT", "8080"),
        ("ORDER_PORT", "9000"),
        (
            "DATABASE_URL",
            "postgres://u:p@db:5433/ignored?sslmode=disable",
        ),
        ("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"),
    ]);
    let config = ServiceConfig::from_env(Service::Order, &env).unwrap();
    assert_eq!(config.port, 9000);
    assert_eq!(
        config.database_url,
        "postgres://u:p@db:5433/cartflow_order?sslmode=disable"
    );
    let product = ServiceConfig::from_env(Service::Product, &env).unwrap();
    assert_eq!(product.port, 8080);
}

#[test]
fn push_needs_an_audience_and_a_service_account_or_the_emulator() {
    let push = |pairs: &[(&str, &str)]| {
        let env = cloud(pairs.iter().copied().chain([("PUBSUB_DELIVERY", "push")]));
        ServiceConfig::from_env(Service::Order, &env).map(|c| c.delivery)
    };
    let err = push(&[]).unwrap_err().to_string();
    assert!(err.contains("PUSH_AUDIENCE"), "{err}");
    let err = push(&[("PUSH_AUTH", "none")]).unwrap_err().to_string();
    assert!(err.contains("PUSH_AUTH='none'"), "{err}");
    assert_eq!(
        push(&[
            ("PUSH_AUTH", "none"),
            ("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
        ])
        .unwrap(),
        DeliveryMode::Push(PushAuth::Unauthenticated)
    );
    assert_eq!(
        push(&[
            ("PUSH_AUDIENCE", "https://order.example"),
            ("PUSH_SERVICE_ACCOUNT", "a@b")
        ])
        .unwrap(),
        DeliveryMode::Push(PushAuth::Oidc {
            audience: "https://order.example".into(),
            service_account: "a@b".into(),
            jwks_url: None,
        })
    );
    // Any Google-signed token for the audience would do without the service account.
    let err = push(&[("PUSH_AUDIENCE", "https://order.example")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("PUSH_SERVICE_ACCOUNT: required"), "{err}");
    assert!(!err.contains("PUSH_AUDIENCE"), "{err}");
    let env = cloud([("PUBSUB_DELIVERY", "carrier-pigeon")]);
    let err = ServiceConfig::from_env(Service::Order, &env).unwrap_err();
    assert!(err.to_string().contains("PUBSUB_DELIVERY='carrier-pigeon'"));
}

#[test]
fn the_admin_token_must_be_long_and_is_never_echoed() {
    let with = |token: &str| {
        let env = cloud([("ADMIN_TOKEN", token)]);
        ServiceConfig::from_env(Service::Order, &env).map(|c| c.admin_token)
    };
    let err = with("hunter2").unwrap_err().to_string();
    assert!(err.contains("ADMIN_TOKEN"), "{err}");
    assert!(!err.contains("hunter2"), "the secret leaked: {err}");
    assert_eq!(
        with("0123456789abcdef").unwrap().as_deref(),
        Some("0123456789abcdef")
    );
    assert_eq!(with("").unwrap(), None);
}

#[test]
fn topology_restore_is_for_the_emulator_only() {
    let restore = |pairs: &[(&str, &str)]| {
        let env = cloud(pairs.iter().copied());
        ServiceConfig::from_env(Service::Order, &env).map(|c| c.restore_topology)
    };
    assert_eq!(restore(&[]), Ok(false));
    assert_eq!(
        restore(&[("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")]),
        Ok(true)
    );
    assert_eq!(
        restore(&[
            ("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"),
            ("PUBSUB_RESTORE_TOPOLOGY", "false")
        ]),
        Ok(false)
    );
    let err = restore(&[("PUBSUB_RESTORE_TOPOLOGY", "true")]).unwrap_err();
    assert!(err.to_string().contains("PUBSUB_RESTORE_TOPOLOGY"), "{err}");
}

#[test]
fn every_bad_value_is_named() {
    let env = cloud([
        ("PORT", "eighty"),
        ("DATABASE_URL", "mysql://x"),
        ("PUBSUB_EMULATOR_HOST", "localhost"),
        ("OUTBOX_SWEEP_MS", "-1"),
    ]);
    let err = ServiceConfig::from_env(Service::Inventory, &env).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.0.len(), 4, "{text}");
    for name in [
        "PORT='eighty'",
        "DATABASE_URL",
        "PUBSUB_EMULATOR_HOST='localhost'",
        "OUTBOX_SWEEP_MS='-1'",
    ] {
        assert!(text.contains(name), "{name} missing from: {text}");
    }
}

#[test]
fn a_dedup_window_shorter_than_redelivery_and_replay_is_refused() {
    let short = cloud([("INBOX_RETENTION_DAYS", "10")]);
    let err = ServiceConfig::from_env(Service::Order, &short).unwrap_err();
    assert!(err.to_string().contains("INBOX_RETENTION_DAYS"), "{err}");
    let longer_replay = cloud([("OUTBOX_RETENTION_DAYS", "9")]);
    assert!(ServiceConfig::from_env(Service::Order, &longer_replay).is_err());
    let both = cloud([
        ("INBOX_RETENTION_DAYS", "20"),
        ("OUTBOX_RETENTION_DAYS", "9"),
    ]);
    let config = ServiceConfig::from_env(Service::Order, &both).unwrap();
    assert_eq!(config.retention.inbox.as_secs(), 20 * 86_400);
    let nonsense = cloud([("FAILURES_RETENTION_DAYS", "-3")]);
    let err = ServiceConfig::from_env(Service::Order, &nonsense).unwrap_err();
    assert!(err.to_string().contains("FAILURES_RETENTION_DAYS"), "{err}");
}

#[test]
fn the_gathering_window_is_a_few_milliseconds_unless_set_and_never_over_a_second() {
    let window = |value: Option<&str>| {
        let env = cloud(value.map(|v| ("PUSH_GATHER_WINDOW_MS", v)));
        ServiceConfig::from_env(Service::Inventory, &env).map(|c| c.consumer.gather_window)
    };
    assert_eq!(window(None).unwrap(), Duration::from_millis(5));
    assert_eq!(window(Some("0")).unwrap(), Duration::ZERO);
    for bad in ["1001", "soon", "-1"] {
        let err = window(Some(bad)).unwrap_err().to_string();
        assert!(
            err.contains(&format!("PUSH_GATHER_WINDOW_MS='{bad}'")),
            "{err}"
        );
    }
}

#[test]
fn push_mode_publishes_before_answering_unless_told_otherwise() {
    let before_response = |pairs: &[(&str, &str)]| {
        let env = cloud(
            pairs
                .iter()
                .copied()
                .chain([("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")]),
        );
        ServiceConfig::from_env(Service::Inventory, &env)
            .unwrap()
            .relay
            .publish_before_response
    };
    assert!(!before_response(&[]), "pull mode has a relay with CPU");
    let push = [("PUBSUB_DELIVERY", "push"), ("PUSH_AUTH", "none")];
    assert!(before_response(&push), "push mode may lose its CPU");
    let off = [
        push[0],
        push[1],
        ("OUTBOX_PUBLISH_BEFORE_RESPONSE", "false"),
    ];
    assert!(!before_response(&off));
    let on = [("OUTBOX_PUBLISH_BEFORE_RESPONSE", "true")];
    assert!(before_response(&on));
}

#[test]
fn sign_in_is_oidc_in_the_cloud_and_headers_only_with_the_emulator() {
    let err = ServiceConfig::from_env(Service::Cart, &Env::default()).unwrap_err();
    for name in ["AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"] {
        assert!(err.to_string().contains(name), "{name} missing from: {err}");
    }
    let oidc = ServiceConfig::from_env(Service::Cart, &cloud([("AUTH_AUDIENCE", "a, b")]))
        .unwrap()
        .auth;
    let AuthSettings::Oidc(oidc) = oidc else {
        panic!("expected oidc, got {oidc:?}");
    };
    assert_eq!(oidc.audiences, ["a", "b"]);
    assert_eq!(
        (oidc.customer_claim.as_str(), oidc.staff_claim.as_str()),
        ("sub", "role")
    );

    let header = cloud([("AUTH_MODE", "header")]);
    let err = ServiceConfig::from_env(Service::Cart, &header).unwrap_err();
    assert!(err.to_string().contains("AUTH_MODE='header'"), "{err}");
    let emulator = Env::from_pairs([("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")]);
    let config = ServiceConfig::from_env(Service::Cart, &emulator).unwrap();
    assert_eq!(config.auth, AuthSettings::Header);
    let plain_http = cloud([("AUTH_JWKS_URL", "http://issuer.example/jwks")]);
    let err = ServiceConfig::from_env(Service::Cart, &plain_http).unwrap_err();
    assert!(err.to_string().contains("AUTH_JWKS_URL"), "{err}");
    let err =
        ServiceConfig::from_env(Service::Cart, &cloud([("AUTH_MODE", "trust-me")])).unwrap_err();
    assert!(err.to_string().contains("AUTH_MODE='trust-me'"), "{err}");
}

#[test]
fn rate_limits_are_on_in_the_cloud_and_off_on_the_emulator_unless_set() {
    let limits = |env: &Env| {
        ServiceConfig::from_env(Service::Cart, env)
            .unwrap()
            .rate_limits
    };
    let cloud_limits = limits(&cloud([]));
    assert_eq!(
        cloud_limits.per_ip,
        Some(Limit {
            per_second: 50,
            burst: 100
        })
    );
    assert_eq!(cloud_limits.per_caller.map(|l| l.per_second), Some(10));
    let local = Env::from_pairs([("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")]);
    assert_eq!(
        (limits(&local).per_ip, limits(&local).per_caller),
        (None, None)
    );
    let set = Env::from_pairs([
        ("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"),
        ("RATE_LIMIT_CALLER_PER_SEC", "2"),
        ("RATE_LIMIT_CALLER_BURST", "3"),
    ]);
    assert_eq!(
        limits(&set).per_caller,
        Some(Limit {
            per_second: 2,
            burst: 3
        })
    );
    let err = ServiceConfig::from_env(Service::Cart, &cloud([("RATE_LIMIT_IP_PER_SEC", "lots")]))
        .unwrap_err();
    assert!(
        err.to_string().contains("RATE_LIMIT_IP_PER_SEC='lots'"),
        "{err}"
    );
}

#[test]
fn debug_output_hides_the_secrets() {
    let env = cloud([
        ("DATABASE_URL", "postgres://cart:pg-s3cret-pw@db:5432/x"),
        ("ADMIN_TOKEN", "admin-token-0123456789"),
        ("SMTP_PASSWORD", "smtp-s3cret-pw"),
    ]);
    let config = ServiceConfig::from_env(Service::Cart, &env).unwrap();
    assert_eq!(
        config.admin_token.as_deref(),
        Some("admin-token-0123456789")
    );
    for shown in [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{env:?}"),
    ] {
        for secret in ["pg-s3cret-pw", "admin-token-0123456789", "smtp-s3cret-pw"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains(crate::redact::REDACTED), "{shown}");
    }
    assert!(format!("{config:?}").contains("postgres://cart:<redacted>@db:5432/cartflow_cart"));
}
