//! The messaging plumbing on its own, against the real emulator and PostgreSQL (the
//! testkit's scratch consumer and handlers): batches, the relay and the inbox,
//! retention. One binary, so it links once.

mod batches;
mod relay_and_inbox;
mod retention;
