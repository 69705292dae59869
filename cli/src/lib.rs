//! The operator's crate: assemble and run the whole platform locally, create and
//! migrate databases, provision the topology, seed demo data.
//!
//! [`cartflow_platform::Platform`] hosts every service in one process, each on its own
//! port with its own database, exactly as the separate binaries would run them; the
//! local stack (`cartflow dev`) runs it, and so do the end-to-end tests (through
//! `cartflow_e2e`).

pub mod commands;
pub mod config_reference;
/// The console and the event-log reads live in their own crate, which links no service.
pub use cartflow_console as console;
pub use cartflow_console::timeline;
pub mod events;
pub mod load;
pub mod progress;
pub mod seed;
pub mod stack;
pub mod walkthrough;

/// The declared topology as pretty JSON: what `cartflow topology` prints and
/// `terraform/topology.json` holds.
pub fn topology_json() -> String {
    let manifest = cartflow_events::Topology::default().manifest();
    serde_json::to_string_pretty(&manifest).expect("the manifest serialises")
}

/// The AsyncAPI document of the topics as pretty JSON: what `cartflow asyncapi` prints
/// and `docs/asyncapi.json` holds.
pub fn asyncapi_json() -> String {
    let document = cartflow_events::asyncapi::document(&cartflow_events::Topology::default());
    serde_json::to_string_pretty(&document).expect("the document serialises")
}

#[cfg(test)]
mod tests {
    use cartflow_kit::Env;
    use cartflow_messaging::PubSubConfig;

    /// Every settings struct that holds a secret hides it in `Debug` (they end up in
    /// logs and panic messages).
    #[test]
    fn settings_hide_their_secrets_in_debug_output() {
        const PASSWORD: &str = "pg-s3cret-pw";
        const TOKEN: &str = "admin-token-0123456789";
        let server_url = format!("postgres://cartflow:{PASSWORD}@db:5432");
        let pubsub = PubSubConfig::emulator("127.0.0.1:8085", "cartflow-local");
        let env = Env::from_pairs([("ADMIN_TOKEN", TOKEN), ("SMTP_PASSWORD", PASSWORD)]);
        let databases = crate::events::Databases {
            server_url: server_url.clone(),
            prefix: String::new(),
        };
        let shown = [
            format!(
                "{:?}",
                cartflow_platform::PlatformSettings {
                    server_url: server_url.clone(),
                    database_prefix: String::new(),
                    pubsub: pubsub.clone(),
                    port_override: None,
                    env: env.clone(),
                    own_logins: true,
                }
            ),
            format!(
                "{:?}",
                crate::stack::StackSettings {
                    server_url: server_url.clone(),
                    pubsub: pubsub.clone(),
                    env,
                    own_logins: true,
                    push_concurrency: None,
                }
            ),
            format!(
                "{:?}",
                crate::load::Target {
                    cart_url: "http://127.0.0.1:3005".into(),
                    product_url: "http://127.0.0.1:3001".into(),
                    inventory_url: "http://127.0.0.1:3002".into(),
                    customer_url: "http://127.0.0.1:3004".into(),
                    pubsub,
                    database_url: Some(server_url.clone()),
                }
            ),
            format!(
                "{:?}",
                crate::console::ConsoleSettings {
                    services: crate::console::ConsoleSettings::default_urls("127.0.0.1"),
                    mail_view: None,
                    databases,
                    refresh: std::time::Duration::from_secs(1),
                    public_url: None,
                    operators: crate::console::Operators::Accounts {
                        admin_token: TOKEN.into(),
                        accounts: vec![("Ann".into(), format!("{PASSWORD}-personal"))],
                    },
                }
            ),
        ];
        for text in shown {
            assert!(!text.contains(PASSWORD), "a password in: {text}");
            assert!(!text.contains(TOKEN), "a token in: {text}");
            assert!(text.contains(cartflow_kit::redact::REDACTED), "{text}");
        }
    }

    /// Terraform builds topics, subscriptions and IAM from `terraform/topology.json`;
    /// it must be exactly what the code declares.
    #[test]
    fn terraform_topology_json_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../terraform/topology.json");
        let on_disk = std::fs::read_to_string(path).expect("terraform/topology.json exists");
        assert!(
            on_disk.trim_end() == super::topology_json(),
            "terraform/topology.json has drifted from the code's topology; regenerate it with\n\
             cargo run -q -p cartflow -- topology > terraform/topology.json"
        );
    }
}
