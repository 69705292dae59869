//! A self-contained SVG of a run: completed checkouts per second, and p50/p99 of
//! convert → confirmed per second, over time. No plotting dependency.

use std::fmt::Write;

/// One second of the run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Second {
    pub t: u64,
    pub concurrency: usize,
    pub completed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// A named, coloured line of (seconds, value) points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

const W: f64 = 900.0;
const H: f64 = 260.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;

fn panel(svg: &mut String, top: f64, title: &str, series: &[Series<'_>], t_max: f64) {
    let y_max = series
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max)
        * 1.1;
    let x = |t: f64| LEFT + t / t_max.max(1.0) * (W - LEFT - RIGHT);
    let y = |v: f64| top + H - v / y_max * H;
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{}" font-size="14" font-weight="bold">{title}</text>"#,
        top - 8.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{top}" width="{}" height="{H}" fill="none" stroke="#999"/>"##,
        W - LEFT - RIGHT
    );
    for i in 0..=4 {
        let v = y_max / 4.0 * i as f64;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{v:.0}</text><line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#eee"/>"##,
            LEFT - 6.0,
            y(v) + 4.0,
            W - RIGHT,
            y = y(v),
        );
    }
    for (i, (name, color, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
            path.join(" ")
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="12" fill="{color}">{name}</text>"#,
            W - RIGHT - 140.0,
            top + 16.0 + 14.0 * i as f64
        );
    }
}

/// The SVG for `seconds`, titled `title`.
pub fn svg(title: &str, seconds: &[Second]) -> String {
    let t_max = seconds.last().map_or(1.0, |s| s.t as f64 + 1.0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{}" font-family="sans-serif">"#,
        2.0 * H + 110.0
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="20" font-size="15">{title}</text>"#
    );
    let points = |f: fn(&Second) -> f64| {
        seconds
            .iter()
            .map(|s| (s.t as f64, f(s)))
            .collect::<Vec<_>>()
    };
    panel(
        &mut svg,
        50.0,
        "completed checkouts per second",
        &[
            ("checkouts/s", "#1f77b4", points(|s| s.completed as f64)),
            ("concurrency", "#aaa", points(|s| s.concurrency as f64)),
        ],
        t_max,
    );
    panel(
        &mut svg,
        H + 90.0,
        "convert → confirmed (ms)",
        &[
            ("p50", "#2ca02c", points(|s| s.p50_ms)),
            ("p99", "#d62728", points(|s| s.p99_ms)),
        ],
        t_max,
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-size="11" text-anchor="middle">seconds since start</text></svg>"#,
        W / 2.0,
        2.0 * H + 105.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plot_is_one_svg_with_both_panels() {
        let seconds: Vec<Second> = (0..5)
            .map(|t| Second {
                t,
                concurrency: 10,
                completed: 80 + t as usize,
                p50_ms: 100.0,
                p99_ms: 150.0,
            })
            .collect();
        let svg = svg("run", &seconds);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("convert → confirmed"));
    }
}
