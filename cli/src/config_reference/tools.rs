//! Rows of the configuration table: The console, the operator CLI and the payment sandbox.

use super::{Setting, s};

pub(super) const SETTINGS: &[Setting] = &[
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
