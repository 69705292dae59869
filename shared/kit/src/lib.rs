//! The service kit: everything a cartflow service needs besides its own domain.
//!
//! A service crate provides a [`ServiceApp`] (its routes, its event handler, its
//! migrations); [`runtime::start`] does the rest: configuration, database pool and
//! migrations, outbox relay, one consumer per subscription, HTTP with `/health` and
//! `/ready`, problem+json errors, request limits, and graceful shutdown.

pub mod auth;
pub mod config;
pub mod databases;
pub mod db;
pub mod http;
pub mod metrics;
pub mod push;
pub mod redact;
pub mod runtime;
pub mod telemetry;
pub mod upstream;

pub use auth::{Caller, CustomerId, SignIn, Staff};
pub use config::{ConfigError, Env, ServiceConfig};
pub use http::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
pub use runtime::{AppContext, RunningService, ServiceApp};
