//! The topology as the code declares it, drawn as an SVG graph in three layers:
//! publishing services → topics → subscriptions (grouped by consuming service). Each
//! subscription's box has a live count the page's script fills in (`sub-<name>`) and
//! a dead-letter mark (`dlq-<name>`). Drawn by hand: a layered graph of this size
//! needs no layout engine, and the console has no frontend build to bring one.

use cartflow_events::{Service, Topic, Topology};
use std::fmt::Write;

const WIDTH: f64 = 1120.0;
const ROW: f64 = 30.0;
const TOP: f64 = 40.0;
const PUBLISHER_X: (f64, f64) = (10.0, 160.0);
const TOPIC_X: (f64, f64) = (290.0, 510.0);
const SUBSCRIPTION_X: (f64, f64) = (650.0, 1110.0);

/// One colour per service, each readable with black text.
fn colour(service: Service) -> &'static str {
    match service {
        Service::Order => "#f6c177",
        Service::Product => "#c4a7e7",
        Service::Inventory => "#9ccfd8",
        Service::Notification => "#eb9fb0",
        Service::EmailPush => "#a3d9a5",
        Service::Cart => "#f2e394",
        Service::Customer => "#b5c7f2",
        Service::Payment => "#f4b8a0",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Centre heights of `n` boxes spread over `height`.
fn spread(n: usize, height: f64) -> Vec<f64> {
    let step = height / n.max(1) as f64;
    (0..n).map(|i| TOP + step * (i as f64 + 0.5)).collect()
}

pub fn svg() -> String {
    let topology = Topology::default();
    let mut subscriptions: Vec<_> = topology.subscriptions().iter().collect();
    subscriptions.sort_by_key(|s| {
        let consumer = Service::ALL.iter().position(|&c| c == s.consumer);
        let topic = Topic::ALL.iter().position(|&t| t == s.topic);
        (consumer, topic)
    });
    let mut topics: Vec<Topic> = Topic::ALL.to_vec();
    topics.sort_by_key(|t| Service::ALL.iter().position(|&p| p == t.publisher()));
    let publishers: Vec<Service> = Service::ALL
        .iter()
        .copied()
        .filter(|&s| topics.iter().any(|t| t.publisher() == s))
        .collect();
    let height = ROW * subscriptions.len() as f64;
    let (publisher_y, topic_y) = (
        spread(publishers.len(), height),
        spread(topics.len(), height),
    );
    let subscription_y = spread(subscriptions.len(), height);
    let y_of_topic = |t: Topic| topic_y[topics.iter().position(|&x| x == t).unwrap_or(0)];
    let y_of_publisher =
        |s: Service| publisher_y[publishers.iter().position(|&x| x == s).unwrap_or(0)];

    let mut out = String::new();
    let total = TOP + height + 20.0;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {total}" role="img" aria-labelledby="topology-title topology-desc" class="topology">
<title id="topology-title">Pub/Sub topology</title>
<desc id="topology-desc">Publishing services on the left, their topics in the middle, and on the right each subscription with its consuming service, live throughput and backlog. The table below lists the same.</desc>
<text x="{}" y="20" class="column">publishes</text><text x="{}" y="20" class="column">topic</text><text x="{}" y="20" class="column">subscription (consumer): throughput · backlog</text>
"#,
        PUBLISHER_X.0, TOPIC_X.0, SUBSCRIPTION_X.0
    );
    let curve = |out: &mut String, x1: f64, y1: f64, x2: f64, y2: f64, class: &str| {
        let mid = (x1 + x2) / 2.0;
        let _ = writeln!(
            out,
            r#"<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" class="{class}"/>"#
        );
    };
    for &topic in &topics {
        curve(
            &mut out,
            PUBLISHER_X.1,
            y_of_publisher(topic.publisher()),
            TOPIC_X.0,
            y_of_topic(topic),
            "edge",
        );
    }
    for (s, &y) in subscriptions.iter().zip(&subscription_y) {
        curve(
            &mut out,
            TOPIC_X.1,
            y_of_topic(s.topic),
            SUBSCRIPTION_X.0,
            y,
            "edge",
        );
    }
    let node = |out: &mut String, (x1, x2): (f64, f64), y: f64, fill: &str, label: &str| {
        let _ = writeln!(
            out,
            r#"<rect x="{x1}" y="{}" width="{}" height="{}" rx="4" fill="{fill}" class="node"/><text x="{}" y="{}" class="label">{}</text>"#,
            y - 11.0,
            x2 - x1,
            22.0,
            x1 + 6.0,
            y + 4.0,
            escape(label)
        );
    };
    for (&service, &y) in publishers.iter().zip(&publisher_y) {
        node(&mut out, PUBLISHER_X, y, colour(service), service.name());
    }
    for &topic in &topics {
        node(
            &mut out,
            TOPIC_X,
            y_of_topic(topic),
            "#e8e8e8",
            topic.name(),
        );
    }
    for (s, &y) in subscriptions.iter().zip(&subscription_y) {
        node(&mut out, SUBSCRIPTION_X, y, colour(s.consumer), &s.name);
        let name = escape(&s.name);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" class="count" text-anchor="end" id="sub-{name}">–</text><text x="{}" y="{}" class="dlq" text-anchor="end" id="dlq-{name}"></text>"#,
            SUBSCRIPTION_X.1 - 6.0,
            y + 4.0,
            SUBSCRIPTION_X.0 - 8.0,
            y + 4.0,
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The same topology as an accessible table.
pub fn table() -> String {
    let mut rows = String::new();
    for s in Topology::default().subscriptions() {
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}–{} s</td><td id=\"row-{}\">–</td></tr>",
            escape(s.topic.publisher().name()),
            escape(s.topic.name()),
            escape(&s.name),
            escape(s.consumer.name()),
            escape(&s.dead_letter_topic),
            s.retry.minimum_backoff.as_secs(),
            s.retry.maximum_backoff.as_secs(),
            escape(&s.name),
        );
    }
    format!(
        "<table class=\"grid\"><caption>Subscriptions: who publishes, who consumes, where failures go after {} attempts</caption>\
         <thead><tr><th scope=\"col\">publisher</th><th scope=\"col\">topic</th><th scope=\"col\">subscription</th><th scope=\"col\">consumer</th>\
         <th scope=\"col\">dead-letter topic</th><th scope=\"col\">retry backoff</th><th scope=\"col\">live</th></tr></thead><tbody>\n{rows}</tbody></table>",
        cartflow_events::topology::MAX_DELIVERY_ATTEMPTS
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_subscription_has_a_box_with_a_live_count() {
        let svg = super::svg();
        for s in cartflow_events::Topology::default().subscriptions() {
            assert!(
                svg.contains(&format!("id=\"sub-{}\"", s.name)),
                "{}",
                s.name
            );
        }
        for t in cartflow_events::Topic::ALL {
            assert!(
                svg.contains(&format!(">{}</text>", t.name())),
                "{}",
                t.name()
            );
        }
        assert_eq!(
            svg.matches("<path").count(),
            cartflow_events::Topic::ALL.len()
                + cartflow_events::Topology::default().subscriptions().len()
        );
    }
}
