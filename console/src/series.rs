//! Prometheus metrics as the services expose them (`GET /metrics`), read with
//! `prometheus-parse` and summed by label: what the live overview is made of.
//! prometheus-parse 0.2 misreads a label value that holds a brace (the HTTP metrics'
//! `route="/products/{sku}"`); the overview reads none of those series, and the
//! metrics tests read the text themselves.

use std::collections::HashMap;

/// Every series of every service, each once. A process hosting several services
/// (`cartflow dev`) shows all of their series on each one's `/metrics`.
#[derive(Debug, Default)]
pub struct Series {
    samples: HashMap<String, (String, HashMap<String, String>, f64)>,
}

impl Series {
    pub fn add(&mut self, text: &str) {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let Ok(scrape) = prometheus_parse::Scrape::parse(lines) else {
            return;
        };
        for sample in scrape.samples {
            let value = match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => continue,
            };
            let key = format!("{}{{{}}}", sample.metric, sample.labels);
            let labels = sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.samples.insert(key, (sample.metric, labels, value));
        }
    }

    /// The sum of `metric` over the series whose labels include `with`.
    pub fn sum(&self, metric: &str, with: &[(&str, &str)]) -> f64 {
        self.samples
            .values()
            .filter(|(name, labels, _)| {
                name == metric
                    && with
                        .iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .fold(0.0, |total, (_, _, value)| total + value)
    }
}
