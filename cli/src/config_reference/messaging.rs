//! Rows of the configuration table: Consuming, the outbox, retention of the message tables, and push delivery.

use super::{ALL, Setting, s};

pub(super) const SETTINGS: &[Setting] = &[
    s(
        &["CONSUMER_MAX_CONCURRENCY", "CONSUMER_MAX_OUTSTANDING"],
        ALL,
        "4, 200: batches (transactions) in flight per subscription (in push mode, per service: its pushes' batches; 1 there cut commits per checkout by a fifth on the emulator, bench/HISTORY.md), and messages held",
    ),
    s(
        &["CONSUMER_BATCH_SIZE"],
        ALL,
        "50: messages per transaction at most (1-64: a savepoint each)",
    ),
    s(
        &["CONSUMER_LEASE_EXTENSION_SECS"],
        ALL,
        "10: how soon messages a crashed consumer held return to others",
    ),
    s(
        &["OUTBOX_BATCH_SIZE", "OUTBOX_SWEEP_MS"],
        ALL,
        "100, 2000: the outbox sweep's rows per transaction and its period",
    ),
    s(
        &["OUTBOX_MARK_MS"],
        ALL,
        "200: how often published events are marked, in one statement",
    ),
    s(
        &["OUTBOX_PUBLISH_BEFORE_RESPONSE"],
        ALL,
        "`true` with `PUBSUB_DELIVERY=push`, else `false`: a commit publishes its events before the response",
    ),
    s(
        &["OUTBOX_PUBLISH_TIMEOUT_MS"],
        ALL,
        "5000: the longest a request waits for that publish",
    ),
    s(
        &["OUTBOX_BACKGROUND_RELAY"],
        ALL,
        "`true`; `false` is for tests only: no background publishing, sweep or sending",
    ),
    s(
        &[
            "INBOX_RETENTION_DAYS",
            "OUTBOX_RETENTION_DAYS",
            "FAILURES_RETENTION_DAYS",
        ],
        ALL,
        "15, 7, 30: the dedup window, published outbox rows (the replay horizon), resolved consume failures",
    ),
    s(
        &[
            "RETENTION_INTERVAL_SECS",
            "RETENTION_BATCH_SIZE",
            "RETENTION_PAUSE_MS",
        ],
        ALL,
        "60, 1000, 50: how often retention runs, rows per batch, pause between batches",
    ),
    s(
        &["RETENTION_SLEEP_COEF"],
        ALL,
        "1: after each batch retention rests at least as long as the batch took, times this",
    ),
    s(
        &["PUBSUB_DELIVERY"],
        "every service, `cartflow stack`",
        "`pull` (streaming pull); `push`: Pub/Sub POSTs to `/pubsub/push`",
    ),
    s(
        &["PUSH_AUTH"],
        ALL,
        "`oidc`: push requests need a Google-signed token; `none` only with the emulator",
    ),
    s(
        &["PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT"],
        ALL,
        "required with `PUSH_AUTH=oidc`: the token's `aud` and `email`",
    ),
    s(
        &["PUSH_JWKS_URL"],
        ALL,
        "Google's signing keys: where push tokens' keys are fetched",
    ),
    s(
        &["PUSH_GATHER_WINDOW_MS"],
        ALL,
        "5: push mode: how long a free worker waits for more pushes to join its batch, from the first one's arrival (0-1000; 0: none)",
    ),
    s(
        &["PUBSUB_RESTORE_TOPOLOGY"],
        ALL,
        "`true` with the emulator: re-create the topology it lost in a restart; refused without it",
    ),
];
