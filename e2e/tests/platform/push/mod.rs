//! Push delivery: Pub/Sub POSTs to each service instead of the service pulling.
//!
//! - On the emulator (which cannot sign tokens) the whole saga runs by push alone: in
//!   push mode no service opens a streaming pull, so nothing else could deliver.
//! - With OIDC, only a Google-style token with the right issuer, audience and service
//!   account gets through; the tokens here are signed with a test-only key
//!   (`shared/testkit/fixtures/push-signing-key.pem`) whose JWKS a local server publishes.
//!
//! The tests are in `emulator` (the saga by push alone, with and without background
//! tasks) and `oidc` (who may push).

mod emulator;
mod oidc;
