//! What the services answer over HTTP, as types: the routes serialise them, and the
//! typed clients (`cartflow-client`), the end-to-end tests and the console read them,
//! without linking the services that produce them. Plain data and the pure rules that
//! belong to it; no SQL (each service's store maps its rows into these).

pub mod cart;
pub mod notification;
pub mod order;
mod page;
pub mod payment;
pub mod webhook;

pub use page::Page;
