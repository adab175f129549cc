//! realtime: a Socket.IO v5 (Engine.IO v4) client core that keeps an application's realtime
//! connection alive, behind a C ABI (`include/realtime.h`).
//!
//! Layers, each depending only on the ones below it:
//! `ffi` → `dispatch` → `client` → `transport` → `protocol`.

pub mod client;
pub mod dispatch;
pub mod error;
pub mod ffi;
pub mod protocol;
pub mod transport;

pub use error::{Error, Result};
