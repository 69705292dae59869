//! Rows of the configuration table: Where each service listens, its database, and the Pub/Sub it uses.

use super::{ALL, Setting, s};

pub(super) const SETTINGS: &[Setting] = &[
    s(
        &["<SERVICE>_PORT", "PORT"],
        ALL,
        "the service's port: order 3000, product 3001, inventory 3002, notification 3003, email-push 3004, cart 3005, customer 3006, payment 3007 (`CART_PORT` wins over `PORT`)",
    ),
    s(
        &["HOST"],
        ALL,
        "`127.0.0.1`: the address the service listens on",
    ),
    s(
        &["<SERVICE>_DATABASE_URL"],
        ALL,
        "`DATABASE_URL` + `/cartflow_<service>`: the service's own database",
    ),
    s(
        &["DATABASE_URL"],
        "every service, `cartflow`",
        "`postgres://postgres@127.0.0.1:5432`: the PostgreSQL server (`scripts/dev.sh` uses its private cluster on 54329); `--database-url`",
    ),
    s(
        &["<SERVICE>_DB_MAX_CONNECTIONS", "DB_MAX_CONNECTIONS"],
        ALL,
        "5: connections per service; a busy subscription holds one per batch",
    ),
    s(
        &["PUBSUB_EMULATOR_HOST"],
        "every service, `cartflow`",
        "unset: Google Cloud with Application Default Credentials; else the emulator's host:port (`--emulator`)",
    ),
    s(
        &["PUBSUB_PROJECT_ID"],
        "every service, `cartflow`",
        "`cartflow-local`: the Google Cloud project (or the emulator's); `--project`",
    ),
    s(
        &["GOOGLE_CLOUD_PROJECT"],
        ALL,
        "unset: a service run on its own takes it when `PUBSUB_PROJECT_ID` is unset (the `cartflow` commands do not); it also names the project in log lines' trace field",
    ),
    s(
        &["CARTFLOW_TOPIC_PREFIX"],
        "every service, `cartflow`",
        "empty: a prefix for every topic and subscription (tests use one each); `--topic-prefix`",
    ),
    s(
        &["HTTP_BODY_LIMIT_BYTES"],
        ALL,
        "65536: the largest request body",
    ),
];
