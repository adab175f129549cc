//! What a socket tells the application, and the sink it tells it through.

use serde_json::Value;

/// One lifecycle event of a socket, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The namespace CONNECT was accepted; `is_connected` is true and the id is set.
    Connect,
    /// The socket is no longer connected; the reason is one of socket.io-client's strings.
    Disconnect { reason: String },
    /// A connection attempt failed, or the server refused the namespace (`message`, `data`).
    Error { message: String, data: Value },
    /// A reconnection attempt (1-based) is about to start.
    ReconnectAttempt(u32),
    /// The transport is open again after that many attempts.
    Reconnect(u32),
    /// `reconnectionAttempts` attempts failed; no more are made until the socket is opened again.
    ReconnectFailed,
}

/// Receives a socket's events; the dispatcher implements it. `deliver` must not block on user code.
pub trait EventSink: Send + Sync + 'static {
    fn deliver(&self, event: Event);
}
