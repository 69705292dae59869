//! End-to-end tests of the checkout saga against the real Pub/Sub emulator and real
//! PostgreSQL (scripts/test.sh starts both when they are not running). One binary, so
//! it links once; each test gets its own databases and topic prefix.

mod burst;
mod helpers;

mod admin;
mod auth;
mod cancel;
mod catalog;
mod checkout;
mod console;
mod contract;
mod crash;
mod dead_letters;
mod deadline;
mod duplicates;
mod expiry;
mod load;
mod logins;
mod metrics;
mod notifications;
mod operator_cli;
mod oversell;
mod payment;
mod poison;
mod process;
mod push;
mod reconnect;
mod resilience;
mod rest_input;
mod retention;
mod seed;
mod throwaway;
mod timeline;
mod tracing;
mod walkthrough;
mod webhooks;
