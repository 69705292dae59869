//! docs/operations.md's dead-letter example, run as the page shows it: `gcloud`
//! publishes an order request whose body cannot be parsed, inventory fails it five
//! times and Pub/Sub moves it to the dead-letter topic, then the page's `cartflow dlq`
//! commands list it and replay it, each printing what the page says. Nothing waits
//! between them: a letter one command has looked at is there for the next one.

use crate::helpers::{TestApp, eventually_within, sh_block, spawn_app};
use crate::operator_cli::run_cli;
use cartflow_events::Service;
use serde_json::Value;
use std::time::{Duration, Instant};

const PARKED: &str = "inventory.order-requested.dead-letter";

/// The page's example: its environment, its `gcloud` publish (for the test's
/// emulator, project and topic prefix) and its `cartflow` command lines.
struct Example {
    env: Vec<(String, String)>,
    publish: String,
    commands: Vec<Vec<String>>,
}

impl Example {
    fn of(app: &TestApp) -> Example {
        let page = include_str!("../../../docs/operations.md");
        let block = sh_block(page, "cartflow dlq replay")
            .expect("docs/operations.md shows the dead-letter example in an sh block");
        let pubsub = &app.infra.settings.pubsub;
        let emulator = pubsub.emulator_host.as_deref().unwrap();
        let local = |text: &str| {
            text.replace("127.0.0.1:8085", emulator)
                .replace("cartflow-local", &pubsub.project_id)
        };
        let mut example = Example {
            env: Vec::new(),
            publish: String::new(),
            commands: Vec::new(),
        };
        for line in block.replace("\\\n", " ").lines() {
            // A comment starts a line or follows a command after spaces.
            let line = line.split(" #").next().unwrap().trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(exports) = line.strip_prefix("export ") {
                for pair in exports.split_whitespace() {
                    let (name, value) = pair.split_once('=').expect("export NAME=value");
                    example.env.push((name.into(), local(value)));
                }
            } else if line.starts_with("gcloud pubsub topics publish ") {
                let topic = line.split_whitespace().nth(4).unwrap();
                example.publish = line.replacen(
                    &format!("publish {topic} "),
                    &format!("publish {}{topic} ", pubsub.topic_prefix),
                    1,
                );
            } else {
                let words: Vec<String> = line.split_whitespace().map(String::from).collect();
                assert_eq!(
                    words[0], "cartflow",
                    "a line the test does not know: {line}"
                );
                example.commands.push(words[1..].to_vec());
            }
        }
        example
    }

    /// The value of `--attribute=…,name=value,…` in the publish command.
    fn attribute(&self, name: &str) -> String {
        let attributes = self.publish.split("--attribute=").nth(1).unwrap();
        let attributes = attributes.split_whitespace().next().unwrap();
        attributes
            .split(',')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("the example's message has no {name}"))
            .to_string()
    }

    /// The page's `cartflow` command whose arguments `pick` chooses, run; its stdout.
    async fn run(&self, app: &TestApp, pick: impl Fn(&[&str]) -> bool) -> String {
        let args = self
            .commands
            .iter()
            .map(|c| c.iter().map(String::as_str).collect::<Vec<_>>())
            .find(|c| pick(c))
            .expect("the page shows the command");
        let (code, out) = run_cli(app, &args).await;
        assert_eq!(code, 0, "cartflow {args:?}: {out}");
        out
    }
}

/// The letters `dlq list --subscription PARKED -o json` shows.
async fn parked(app: &TestApp) -> Vec<Value> {
    let (code, out) = run_cli(
        app,
        &["dlq", "list", "--subscription", PARKED, "-o", "json"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let listed: Value = serde_json::from_str(&out).expect("dlq list -o json is JSON");
    listed[0]["messages"].as_array().unwrap().clone()
}

fn letter_of(letters: &[Value], event_id: &str) -> Option<Value> {
    letters.iter().find(|l| l["event_id"] == event_id).cloned()
}

/// Waits until the letter of `event_id` is in the dead-letter subscription: a minute at
/// most, allowing for a busy machine. The letter, and inventory's logged attempts at it.
async fn until_parked(app: &TestApp, event_id: &str, since: Instant) -> (Value, i32) {
    let letter = eventually_within(Duration::from_secs(60), "the dead letter", || async {
        letter_of(&parked(app).await, event_id)
    })
    .await;
    let (attempts, span): (i32, f64) = sqlx::query_as(
        "SELECT attempts, extract(epoch FROM last_failed_at - first_failed_at)::float8 \
         FROM message_failures WHERE event_id = $1::uuid",
    )
    .bind(event_id)
    .fetch_one(app.pool(Service::Inventory))
    .await
    .expect("inventory logged the example's failures");
    eprintln!(
        "dead-lettered after {:?}; inventory's attempts so far: {attempts}, over {span:.1} s",
        since.elapsed()
    );
    (letter, attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operations_pages_dead_letter_example_runs_as_documented() {
    let app = spawn_app().await;
    let example = Example::of(&app);
    assert_eq!(example.commands.len(), 4, "{:?}", example.commands);
    let event_id = example.attribute("event_id");
    let of_example = |letters: &[Value]| letter_of(letters, &event_id);

    let published = Instant::now();
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&example.publish)
        .envs(example.env.iter().cloned())
        .output()
        .await
        .expect("running gcloud");
    assert!(
        output.status.success(),
        "{}\n{}",
        example.publish,
        String::from_utf8_lossy(&output.stderr)
    );

    // "Within ~20 s (5 attempts, ...) it is a dead letter".
    let (letter, attempts) = until_parked(&app, &event_id, published).await;
    assert_eq!(attempts, 5, "inventory logged each attempt");
    assert_eq!(letter["delivery_attempts"], "5", "{letter}");
    assert_eq!(letter["event_type"], example.attribute("event_type"));
    assert_eq!(
        letter["correlation_id"],
        example.attribute("correlation_id")
    );
    assert_eq!(letter["body"], r#"{"cart_id":"not-a-uuid"}"#, "{letter}");
    let source = letter["source_subscription"].as_str().unwrap_or_default();
    let prefix = &app.infra.settings.pubsub.topic_prefix;
    assert!(
        source.ends_with(&format!("{prefix}inventory.order-requested")),
        "{letter}"
    );

    // The page's commands in its order, each right after the one before.
    let all = example.run(&app, |c| c == ["dlq", "list"]).await;
    let counts: Vec<&str> = all.lines().filter(|l| l.ends_with("message(s)")).collect();
    let topology = cartflow_messaging::dead_letters::dead_letter_subscriptions(app.infra.pubsub());
    assert_eq!(
        counts.len(),
        topology.len(),
        "every dead-letter subscription:\n{all}"
    );
    assert!(
        counts.contains(&format!("{PARKED}: 1 message(s)").as_str()),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "order-requested  event {event_id}  saga demo  attempts 5"
        )),
        "{all}"
    );

    let json = example
        .run(&app, |c| {
            c == ["dlq", "list", "--subscription", PARKED, "-o", "json"]
        })
        .await;
    let listed: Value = serde_json::from_str(&json).expect("dlq list -o json is JSON");
    assert_eq!(listed[0]["subscription"], PARKED, "{listed}");
    let messages = listed[0]["messages"].as_array().unwrap();
    assert_eq!(of_example(messages).as_ref(), Some(&letter), "{listed}");

    let dry = example
        .run(&app, |c| {
            c == ["dlq", "replay", "--subscription", PARKED, "--dry-run"]
        })
        .await;
    assert_eq!(
        dry.trim(),
        format!("{PARKED}: 1 matched, 0 replayed, 0 left in place (dry run: nothing changed)")
    );

    let replayed = example
        .run(&app, |c| {
            c == [
                "dlq",
                "replay",
                "--subscription",
                PARKED,
                "--event-id",
                &event_id,
            ]
        })
        .await;
    assert_eq!(
        replayed.trim(),
        format!("{PARKED}: 1 matched, 1 replayed, 0 left in place")
    );
    // Replayed, it left the dead-letter subscription...
    assert_eq!(of_example(&parked(&app).await), None);
    // ...for its topic, with its event id: inventory still cannot parse it, so five
    // attempts later it is a dead letter again.
    let (again, attempts) = until_parked(&app, &event_id, Instant::now()).await;
    assert_eq!(attempts, 10, "five more attempts logged");
    assert_eq!(again["delivery_attempts"], "5", "{again}");
    assert_ne!(again["message_id"], letter["message_id"], "{again}");
    app.stop().await;
}
