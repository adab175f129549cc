//! realtime: a Socket.IO v5 (Engine.IO v4) client core that keeps an application's realtime
//! connection alive, behind a C ABI (`include/realtime.h`).
//!
//! Layers, each depending only on the ones below it:
//! `ffi` → `dispatch` → `client` → `transport` → `protocol`.
//!
//! The C ABI is the product; the Rust surface of the rlib is only what tests, benches and fuzzers
//! need: `ffi` (the exports themselves), `protocol` (pure codecs, for fuzzing and property tests) and,
//! for now, `client` (its IO side ↔ dispatcher interface is still being wired; it becomes
//! `pub(crate)` once nothing outside the crate names it). Everything else is internal, as in
//! rustls-ffi.

pub mod client;
pub(crate) mod dispatch;
mod error;
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
pub mod protocol;
pub(crate) mod transport;

pub use error::{Error, Result};
