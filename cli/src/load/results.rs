//! The files a load run leaves: `<label>.json` (the plan and the whole report) and
//! `<label>.svg` (throughput and latency over time).

use super::{Plan, Report};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Writes both files into `out` (created if needed); returns their paths.
pub fn write(
    out: &Path,
    label: &str,
    plan: &Plan,
    report: &Report,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json_path = out.join(format!("{label}.json"));
    let svg_path = out.join(format!("{label}.svg"));
    let document = serde_json::json!({
        "label": label,
        "plan": {
            "levels": plan.levels,
            "warmup_seconds": plan.warmup.as_secs(),
            "duration_seconds": plan.duration.as_secs(),
            "checkout_timeout_seconds": plan.checkout_timeout.as_secs(),
            "p99_bound_ms": plan.p99_bound.map(|b| b.as_millis() as u64),
            "customers_per_shopper": plan.customers_per_shopper,
            "products": plan.products,
        },
        "report": report,
    });
    std::fs::write(&json_path, serde_json::to_string_pretty(&document)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    let title = format!("cartflow load: {label}");
    std::fs::write(&svg_path, super::plot::svg(&title, &report.seconds))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    Ok((json_path, svg_path))
}
