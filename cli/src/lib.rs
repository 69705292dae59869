//! The operator's crate: assemble and run the whole platform locally, create and
//! migrate databases, provision the topology, seed demo data.
//!
//! [`cartflow_platform::Platform`] hosts every service in one process, each on its own
//! port with its own database, exactly as the separate binaries would run them; the
//! local stack (`cartflow dev`) runs it, and so do the end-to-end tests (through
//! `cartflow_e2e`).

pub mod commands;
pub mod console;
pub mod events;
pub mod load;
pub mod progress;
pub mod seed;
pub mod stack;
pub mod timeline;
pub mod walkthrough;

/// The declared topology as pretty JSON: what `cartflow topology` prints and
/// `terraform/topology.json` holds.
pub fn topology_json() -> String {
    let manifest = cartflow_events::Topology::default().manifest();
    serde_json::to_string_pretty(&manifest).expect("the manifest serialises")
}

#[cfg(test)]
mod tests {
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
