//! The tracing settings, from the standard OpenTelemetry variables.

/// Where and as whom spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingSettings {
    /// The OTLP/HTTP traces URL (`…/v1/traces`).
    pub traces_endpoint: String,
    pub service_name: String,
    /// The Google Cloud project, for the trace field of log lines.
    pub project_id: Option<String>,
}

impl TracingSettings {
    /// From the standard OpenTelemetry variables; `None` when no endpoint is set (or
    /// `OTEL_SDK_DISABLED=true`). A value the exporter could not honour is named.
    pub fn from_env(
        default_service_name: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let traces_endpoint = match (
            set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            set("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => traces,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        if !(traces_endpoint.starts_with("http://") || traces_endpoint.starts_with("https://")) {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT: '{traces_endpoint}' is not an http:// or https:// URL"
            ));
        }
        for name in [
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ] {
            if let Some(protocol) = set(name).filter(|p| p != "http/protobuf") {
                return Err(format!(
                    "{name}: '{protocol}' is not supported; cartflow exports OTLP as http/protobuf (port 4318)"
                ));
            }
        }
        if let Some(arg) = set("OTEL_TRACES_SAMPLER_ARG") {
            let ratio: f64 = arg.trim().parse().map_err(|_| {
                format!("OTEL_TRACES_SAMPLER_ARG: '{arg}' is not a number between 0 and 1")
            })?;
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!(
                    "OTEL_TRACES_SAMPLER_ARG: {ratio} is not between 0 and 1"
                ));
            }
        }
        Ok(Some(TracingSettings {
            traces_endpoint,
            service_name: set("OTEL_SERVICE_NAME").unwrap_or_else(|| default_service_name.into()),
            project_id: set("GOOGLE_CLOUD_PROJECT").or_else(|| set("PUBSUB_PROJECT_ID")),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracing_settings_follow_the_standard_variables_and_name_bad_values() {
        let with = |vars: &'static [(&'static str, &'static str)]| {
            TracingSettings::from_env("order", move |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        assert_eq!(with(&[]), Ok(None), "unset: no export");
        let on = with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")])
            .unwrap()
            .unwrap();
        assert_eq!(on.traces_endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(on.service_name, "order");
        let own = with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/traces"),
            ("OTEL_SERVICE_NAME", "shop-order"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (own.traces_endpoint.as_str(), own.service_name.as_str()),
            ("http://b:4318/traces", "shop-order")
        );
        assert_eq!(
            with(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
                ("OTEL_SDK_DISABLED", "true")
            ]),
            Ok(None)
        );
        for (bad, named) in [
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")][..],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ][..],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
                    ("OTEL_TRACES_SAMPLER_ARG", "half"),
                ][..],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a"),
                    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
                ][..],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
        ] {
            let vars: &'static [(&str, &str)] = Box::leak(bad.to_vec().into_boxed_slice());
            let err = with(vars).unwrap_err();
            assert!(err.starts_with(named), "{err}");
        }
    }
}
