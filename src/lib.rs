//! realtime: a Socket.IO v5 (Engine.IO v4) client core that keeps an application's realtime
//! connection alive, behind a C ABI (`include/realtime.h`).
//!
//! Layers, each depending only on the ones below it:
//! `ffi` → `dispatch` → `client` → `transport` → `protocol`.
//!
//! The C ABI is the product; the Rust surface of the rlib is only what the fuzzers need: `ffi` (the
//! exports themselves) and `fuzzing` (entry points over the decoders). Everything else is
//! `pub(crate)`, as in rustls-ffi.

pub(crate) mod client;
pub(crate) mod dispatch;
mod logging;
mod error;
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod protocol;
pub(crate) mod transport;

pub use error::{Error, Result};
