//! The operator's crate: assemble and run the whole platform locally, create and
//! migrate databases, provision the topology, seed demo data.
//!
//! [`platform::Platform`] hosts every service in one process, each on its own port
//! with its own database, exactly as the separate binaries would run them. The local
//! stack (`cartflow dev`) and the end-to-end tests both use it.

pub mod databases;
pub mod dlq;
pub mod platform;
pub mod seed;
pub mod smtp_catcher;
pub mod timeline;

pub use platform::{Platform, PlatformSettings};
