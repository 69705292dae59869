//! Rows of the configuration table: Logs and traces.

use super::{Setting, s};

pub(super) const SETTINGS: &[Setting] = &[
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
];
