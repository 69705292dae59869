//! Rows of the configuration table: One service's own settings: cart's catalog calls, the checkout's deadlines,
//! payment, notification's mail and push.

use super::{Setting, s};

pub(super) const SETTINGS: &[Setting] = &[
    s(
        &["PRODUCT_SERVICE_URL"],
        "cart",
        "`http://127.0.0.1:3001`: where cart asks product for prices",
    ),
    s(
        &[
            "PRODUCT_TIMEOUT_MS",
            "PRODUCT_RETRIES",
            "PRODUCT_BACKOFF_MS",
            "PRODUCT_BREAKER_FAILURES",
            "PRODUCT_BREAKER_OPEN_MS",
        ],
        "cart",
        "2000, 2, 50, 5, 5000: cart → product timeout, retries, backoff and circuit breaker",
    ),
    s(
        &["PRODUCT_AUDIENCE"],
        "cart",
        "unset; on Cloud Run the product URL: calls carry an ID token for it",
    ),
    s(
        &["CHECKOUT_DEADLINE_MS", "CHECKOUT_WATCH_MS"],
        "cart",
        "30000, 1000: a pending checkout's request is sent again after the deadline; the watchdog looks this often",
    ),
    s(
        &["CHECKOUT_EXPIRE_MS"],
        "cart",
        "300000: a checkout still pending this long is given up (`checkout.expire-requested`)",
    ),
    s(
        &["PAYMENT_PROVIDER_URL", "PAYMENT_PROVIDER_KEY"],
        "payment, `cartflow dev`, `cartflow stack`",
        "`http://127.0.0.1:12111` (the sandbox, which `dev` and `stack` start unless set), `sk_test_cartflow_sandbox`: Stripe's API and secret key",
    ),
    s(&["PAYMENT_CURRENCY"], "payment", "`usd`"),
    s(
        &[
            "PROVIDER_TIMEOUT_MS",
            "PROVIDER_RETRIES",
            "PROVIDER_BACKOFF_MS",
            "PROVIDER_BREAKER_FAILURES",
            "PROVIDER_BREAKER_OPEN_MS",
        ],
        "payment",
        "2000, 2, 50, 5, 5000: payment → provider; retries carry the same idempotency key",
    ),
    s(
        &["PAYMENT_WORKER_CONCURRENCY", "PAYMENT_WORKER_POLL_MS"],
        "payment",
        "64, 500: provider calls at once; how often due retries are looked for",
    ),
    s(
        &["STOCK_MANAGER_EMAIL"],
        "notification",
        "`stock-manager@cartflow.local`: who is told of low stock",
    ),
    s(
        &[
            "WEBHOOK_ALLOW_LOOPBACK",
            "WEBHOOK_TIMEOUT_MS",
            "WEBHOOK_MAX_CONCURRENCY",
            "WEBHOOK_POLL_MS",
            "WEBHOOK_RETRY_BASE_MS",
            "WEBHOOK_RETRY_MAX_MS",
            "WEBHOOK_MAX_ATTEMPTS",
            "WEBHOOK_AUTO_PAUSE_SECS",
            "WEBHOOK_SECRET_OVERLAP_SECS",
            "WEBHOOK_RETENTION_DAYS",
            "WEBHOOK_ALERT_EMAIL",
        ],
        "notification",
        "outgoing webhooks ([webhooks.md](webhooks.md#settings)), in this order: loopback URLs allowed, `true` with the emulator (refused without it); 10000 ms per call; 16 calls at once; a 500 ms poll; retries from 5000 ms up to 14400000 ms (4 h) over 18 attempts; an automatic pause after 259200 s (3 days) of failures; both secrets signed for 86400 s (1 day) after a rotation; deliveries kept 30 days; the alert to `STOCK_MANAGER_EMAIL`'s value",
    ),
    s(
        &["SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY"],
        "email-push, `cartflow dev`, `cartflow stack`",
        "`127.0.0.1`, 1025, `none` (or `starttls`, `tls`); `dev` and `stack` start a mail catcher unless `SMTP_HOST` is set",
    ),
    s(
        &["SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM"],
        "email-push",
        "unset, unset, `cartflow <no-reply@cartflow.local>`",
    ),
    s(
        &[
            "SMTP_TIMEOUT_MS",
            "SMTP_MAX_ATTEMPTS",
            "SMTP_RETRY_BASE_MS",
            "SMTP_CONNECTIONS",
        ],
        "email-push",
        "5000, 4, 500, 128: a send's time-out; attempts; the first retry's wait; emails sent at once by the sender (and by each pushed batch), and the SMTP connections kept open for reuse (1–1024; set it to what your relay allows)",
    ),
    s(
        &["PUSH_STREAMS_PER_CALLER", "PUSH_STREAM_RECHECK_SECS"],
        "email-push",
        "5, 30: live push streams one caller may hold; how often a stream re-checks its caller's sign-in",
    ),
    s(
        &["MAIL_CATCHER_MAX_MESSAGES"],
        "`cartflow dev`, `cartflow stack`",
        "5000: messages the mail catcher keeps",
    ),
];
