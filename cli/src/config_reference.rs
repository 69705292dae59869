//! Every environment variable cartflow reads, with its default and what it does: the
//! one table `cartflow config-reference` prints and `docs/configuration.md` holds
//! between its markers. The tests below keep it complete: every variable name the
//! code reads (a string literal such as `"SMTP_HOST"`, or a suffix such as
//! `"{prefix}_RETRIES"`) must be in the table, and every name in the table must be
//! read somewhere, so the page cannot drift from the code in either direction; and
//! every default the services read a setting with (`Env::parse_or`, noted as each
//! service reads its whole configuration) must be stated in its row.

use serde::Serialize;

/// One row: variables that belong together, who reads them, the default and meaning.
#[derive(Debug, Serialize)]
pub struct Setting {
    pub names: &'static [&'static str],
    /// Who reads it: every service, one service, or a `cartflow` command.
    pub read_by: &'static str,
    /// The default (or "unset"), then what the variable does.
    pub doc: &'static str,
}

const fn s(names: &'static [&'static str], read_by: &'static str, doc: &'static str) -> Setting {
    Setting {
        names,
        read_by,
        doc,
    }
}

const ALL: &str = "every service";

pub const SETTINGS: &[Setting] = &[
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
    s(
        &["CONSUMER_MAX_CONCURRENCY", "CONSUMER_MAX_OUTSTANDING"],
        ALL,
        "4, 200: batches (transactions) in flight per subscription, and messages held",
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
        &["PUBSUB_RESTORE_TOPOLOGY"],
        ALL,
        "`true` with the emulator: re-create the topology it lost in a restart; refused without it",
    ),
    s(
        &["AUTH_MODE"],
        ALL,
        "`oidc` (ID tokens); `header` (`X-Customer-Id`, `X-Role: staff`) is the default with the emulator and refused without it",
    ),
    s(
        &["AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"],
        ALL,
        "required with `oidc`: the tokens' `iss`, accepted `aud` values (comma-separated), the issuer's keys (https)",
    ),
    s(
        &["AUTH_CUSTOMER_CLAIM"],
        ALL,
        "`sub`: the claim holding the customer id",
    ),
    s(
        &["AUTH_STAFF_CLAIM", "AUTH_STAFF_VALUE"],
        ALL,
        "`role`, `staff`: staff are callers whose claim equals (or contains) the value",
    ),
    s(
        &[
            "AUTH_CLOCK_SKEW_SECS",
            "AUTH_JWKS_REFRESH_SECS",
            "AUTH_JWKS_MIN_REFRESH_SECS",
        ],
        ALL,
        "60, 3600, 30: `exp`/`nbf` leeway; key refresh period; least time between refreshes for unknown key ids",
    ),
    s(
        &["RATE_LIMIT_IP_PER_SEC", "RATE_LIMIT_IP_BURST"],
        ALL,
        "50, 100 in Google Cloud; off with the emulator unless set; 0 is off",
    ),
    s(
        &["RATE_LIMIT_CALLER_PER_SEC", "RATE_LIMIT_CALLER_BURST"],
        ALL,
        "10, 2 × the rate in Google Cloud; 0 (off) with the emulator unless set; the caller is the credential as sent",
    ),
    s(
        &["RATE_LIMIT_TRUSTED_PROXY_HOPS"],
        ALL,
        "0: the TCP peer is the client; 1 on Cloud Run",
    ),
    s(
        &["ADMIN_TOKEN"],
        "every service, `cartflow console`",
        "unset: the `/admin` routes answer 401; else their bearer token (≥ 16 characters); `--admin-token`",
    ),
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
        &["SMTP_TIMEOUT_MS", "SMTP_MAX_ATTEMPTS", "SMTP_RETRY_BASE_MS"],
        "email-push",
        "5000, 4, 500",
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
    s(
        &["RUST_LOG"],
        "every service, `cartflow`",
        "`info`: the log filter (`cartflow -q`/`-v` override it)",
    ),
    s(
        &["LOG_FORMAT"],
        "every service, `cartflow`",
        "human-readable; `json` is Cloud Logging's shape",
    ),
    s(
        &[
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ],
        "every service, `cartflow`",
        "unset: no traces; else the OTLP/HTTP collector (see [Tracing](observability.md#tracing))",
    ),
    s(
        &[
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ],
        "every service, `cartflow`",
        "`http/protobuf`, the only one supported",
    ),
    s(
        &["OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED"],
        "every service, `cartflow`",
        "the service's name; `true` turns export off",
    ),
    s(
        &["OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"],
        "every service, `cartflow`",
        "parent-based always-on; the ratio (0-1) for a ratio sampler",
    ),
    s(
        &["CONSOLE_ADDR"],
        "`cartflow console`, `cartflow dev`",
        "`127.0.0.1:8080`: the web console's address; `--console-addr`",
    ),
    s(
        &["CONSOLE_SERVICE_URLS"],
        "`cartflow console`",
        "every service on its port on 127.0.0.1; else `<service>=<url>` pairs, comma-separated; `--service-url`",
    ),
    s(
        &["CONSOLE_PUBLIC_URL"],
        "`cartflow console`",
        "unset; the URL browsers reach the console at behind a proxy: its host is allowed, `https://` makes the cookie `Secure`",
    ),
    s(
        &["CONSOLE_OPERATOR"],
        "`cartflow console`, `cartflow dev`",
        "the OS user: the one operator of a console of one's own",
    ),
    s(
        &["CONSOLE_OPERATORS"],
        "`cartflow console`",
        "unset; `name=token,…` (tokens ≥ 16 characters): a shared console, each operator signing in with their own token; `--operator-account`",
    ),
    s(
        &["CONSOLE_MAIL_VIEW"],
        "`cartflow console`",
        "unset: the storefront shows email-push's record of sent emails; else a mail catcher's view URL",
    ),
    s(
        &["CARTFLOW_STAFF_TOKEN"],
        "`cartflow payments reconcile`",
        "unset: the call says `X-Role: staff` (emulator-backed stacks only); else a staff ID token; `--token`",
    ),
    s(
        &["SANDBOX_ADDR", "SANDBOX_SLOW_MS"],
        "`cartflow gateway-sandbox`",
        "`127.0.0.1:12111`, 3000: where the payment sandbox listens; how long `pm_card_slow` keeps its first request waiting",
    ),
];

/// Markers around the generated table in docs/configuration.md.
pub const BEGIN: &str = "<!-- BEGIN config-reference: generated by `cartflow config-reference --write docs/configuration.md` -->";
pub const END: &str = "<!-- END config-reference -->";

/// The table as Markdown.
pub fn markdown() -> String {
    let mut out = String::from("| variable | read by | default and meaning |\n|---|---|---|\n");
    for setting in SETTINGS {
        let names: Vec<String> = setting.names.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            names.join(", "),
            setting.read_by,
            setting.doc
        ));
    }
    out
}

/// `page` with the text between its markers replaced by `table`; an error when the
/// markers are missing.
pub fn splice(page: &str, table: &str) -> Result<String, String> {
    splice_between(page, BEGIN, END, table)
}

/// `page` with the lines between the `begin` and `end` markers replaced by `text`.
pub fn splice_between(page: &str, begin: &str, end: &str, text: &str) -> Result<String, String> {
    let start = page
        .find(begin)
        .ok_or_else(|| format!("no `{begin}` marker"))?
        + begin.len();
    let stop = page[start..]
        .find(end)
        .ok_or_else(|| format!("no `{end}` marker after the first"))?
        + start;
    Ok(format!("{}\n{text}{}", &page[..start], &page[stop..]))
}

/// Every name in the table.
pub fn names() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().flat_map(|s| s.names.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

    /// Literals that look like variable names but are not read from the environment.
    const NOT_SETTINGS: &[&str] = &["CARGO_PKG_VERSION"];

    /// The variable names (or `_`-joined parts of them) the production code spells:
    /// `"SMTP_HOST"`, and the `RETRIES` of `"{prefix}_RETRIES"`. Test code (files under
    /// `tests/`, `tests.rs`, the testkit, and everything after `#[cfg(test)]`) is left out.
    fn names_in_code() -> BTreeSet<(String, PathBuf)> {
        let mut found = BTreeSet::new();
        for dir in ["services", "shared", "platform", "console/src", "cli/src"] {
            walk(&Path::new(ROOT).join(dir), &mut |path| {
                let text = std::fs::read_to_string(path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                for name in variable_literals(code) {
                    found.insert((name, path.to_path_buf()));
                }
            });
        }
        found
    }

    fn walk(dir: &Path, visit: &mut impl FnMut(&Path)) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(
                    name.as_str(),
                    "tests" | "testkit" | "target" | "node_modules"
                ) {
                    walk(&path, visit);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" {
                visit(&path);
            }
        }
    }

    /// `"ABC_DEF"` literals, and the tail of `"{x}_ABC"` ones.
    fn variable_literals(code: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, piece) in code.split('"').enumerate() {
            if i % 2 == 0 {
                continue; // outside a literal (good enough: names never hold quotes)
            }
            let tail = match piece.strip_prefix('{') {
                Some(rest) => match rest.split_once("}_") {
                    Some((var, tail))
                        if var.chars().all(|c| {
                            c.is_ascii_lowercase() || c == '_' || c == '.' || c == '(' || c == ')'
                        }) =>
                    {
                        tail
                    }
                    _ => continue,
                },
                None => piece,
            };
            let shaped = tail.len() > 2
                && tail.starts_with(|c: char| c.is_ascii_uppercase())
                && tail
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && (tail.contains('_') || piece.starts_with('{'));
            if shaped && !NOT_SETTINGS.contains(&tail) {
                out.push(tail.to_string());
            }
        }
        out
    }

    /// A literal covers a table name when it is the name, or a whole `_`-separated
    /// head or tail of it (`RATE_LIMIT_IP` of `RATE_LIMIT_IP_BURST`, `RETRIES` of
    /// `PRODUCT_RETRIES`).
    fn covers(literal: &str, name: &str) -> bool {
        name == literal
            || name.starts_with(&format!("{literal}_"))
            || name.ends_with(&format!("_{literal}"))
    }

    #[test]
    fn every_variable_the_code_reads_is_in_the_table() {
        let missing: Vec<String> = names_in_code()
            .into_iter()
            .filter(|(literal, _)| !names().any(|name| covers(literal, name)))
            .map(|(literal, path)| format!("{literal} ({})", path.display()))
            .collect();
        assert!(
            missing.is_empty(),
            "read by the code but not in cli/src/config_reference.rs SETTINGS: {missing:?}"
        );
    }

    #[test]
    fn every_variable_in_the_table_is_read_by_the_code() {
        let literals: BTreeSet<String> = names_in_code().into_iter().map(|(l, _)| l).collect();
        // Read by the OpenTelemetry SDK itself, or spelled without `_` (`"PORT"`,
        // `"HOST"`, prefixes such as `"PRODUCT"`).
        let elsewhere = ["OTEL_TRACES_SAMPLER", "PORT", "HOST"];
        let stale: Vec<&str> = names()
            .filter(|name| !elsewhere.contains(name))
            .filter(|name| !literals.iter().any(|l| covers(l, name)))
            .collect();
        assert!(stale.is_empty(), "in the table but read nowhere: {stale:?}");
    }

    #[test]
    fn the_scan_finds_names_and_suffixes_and_skips_the_rest() {
        let code = r#"env.get("SMTP_HOST"); format!("{prefix}_RETRIES"); "GET"; "a b"; "X""#;
        assert_eq!(variable_literals(code), ["SMTP_HOST", "RETRIES"]);
        assert!(covers("RETRIES", "PRODUCT_RETRIES"));
        assert!(covers("RATE_LIMIT_IP", "RATE_LIMIT_IP_BURST"));
        assert!(!covers("IP", "RATE_LIMIT_IP_BURST"));
    }

    /// A table name matches a variable the code read: the same, or, for a name such
    /// as `<SERVICE>_DB_MAX_CONNECTIONS`, any prefix in its place.
    fn matches_name(table: &str, read: &str) -> bool {
        match table.strip_prefix('<').and_then(|t| t.split_once('>')) {
            Some((_, tail)) => read.ends_with(tail) && read.len() > tail.len(),
            None => table == read,
        }
    }

    /// Whether `doc` states `default`: as one of its words (`500`, `127.0.0.1`,
    /// `true`), `_`-grouped digits as written in code read without the `_`.
    fn states(doc: &str, default: &str) -> bool {
        doc.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
            .map(|word| word.trim_end_matches('.').replace('_', ""))
            .any(|word| word == default.replace('_', ""))
    }

    /// The defaults the code reads its settings with (every `Env::parse_or`, as each
    /// service reads its whole configuration at start-up) are the ones the table
    /// states: each appears in the row that names its variable.
    #[tokio::test]
    async fn the_table_states_the_defaults_the_code_reads_with() {
        let env = cartflow_kit::Env::from_pairs([
            ("PUBSUB_EMULATOR_HOST", "127.0.0.1:1"),
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1"),
        ]);
        for service in cartflow_events::Service::ALL {
            cartflow_platform::read_settings(service, &env)
                .await
                .unwrap_or_else(|e| panic!("{service}'s settings: {e:#}"));
        }
        let read = env.defaults_read();
        assert!(
            read.len() >= 30,
            "every service's settings were read: {read:?}"
        );
        let mut wrong = Vec::new();
        for (name, default) in &read {
            let row = SETTINGS
                .iter()
                .find(|s| s.names.contains(&name.as_str()))
                .or_else(|| {
                    SETTINGS
                        .iter()
                        .find(|s| s.names.iter().any(|n| matches_name(n, name)))
                });
            match row {
                None => wrong.push(format!("{name}: not in the table")),
                Some(row) if !states(row.doc, default) => wrong.push(format!(
                    "{name}: the code's default is {default}; the table says \"{}\"",
                    row.doc
                )),
                Some(_) => {}
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn a_default_is_found_as_a_word_of_the_doc() {
        assert!(states("`127.0.0.1`: the address", "127.0.0.1"));
        assert!(states("30000 (30 s): how long", "30_000"));
        assert!(states("5: connections", "5"));
        assert!(!states("50: connections", "5"));
        assert!(matches_name(
            "<SERVICE>_DB_MAX_CONNECTIONS",
            "CART_DB_MAX_CONNECTIONS"
        ));
        assert!(!matches_name(
            "<SERVICE>_DB_MAX_CONNECTIONS",
            "_DB_MAX_CONNECTIONS"
        ));
    }

    /// docs/configuration.md holds exactly the generated table between its markers.
    #[test]
    fn the_configuration_page_is_current() {
        let path = Path::new(ROOT).join("docs/configuration.md");
        let page = std::fs::read_to_string(&path).unwrap();
        let expected = splice(&page, &markdown()).unwrap();
        assert!(
            page == expected,
            "docs/configuration.md is stale; regenerate it with \
             `cartflow config-reference --write docs/configuration.md`"
        );
    }

    #[test]
    fn splicing_replaces_only_between_the_markers() {
        let page = format!("intro\n{BEGIN}\nold\n{END}\noutro\n");
        assert_eq!(
            splice(&page, "new\n").unwrap(),
            format!("intro\n{BEGIN}\nnew\n{END}\noutro\n")
        );
        assert!(splice("no markers", "x").is_err());
    }
}
