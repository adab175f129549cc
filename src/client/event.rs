//! What a socket tells the application, and the sink it tells it through.

use serde_json::Value;

/// An event the server emitted to this socket.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingEvent {
    /// The event name, decoded (a lone surrogate escape in it becomes U+FFFD).
    pub name: String,
    /// The arguments after the name, as the JSON array text the server sent them (byte for byte:
    /// escapes, numbers and key order as sent); binary arguments are `{"_placeholder":true,"num":i}`
    /// objects referring to `attachments[i]`.
    pub args: String,
    pub attachments: Vec<Vec<u8>>,
    /// The handle to answer the server's ack request with (`Socket::answer_ack`), if it asked for one.
    pub ack: Option<u64>,
}

/// The result of an emit that asked for an ack.
#[derive(Debug, Clone, PartialEq)]
pub enum AckOutcome {
    /// The server's answer: its JSON array text as sent (placeholders and attachments as in
    /// [`IncomingEvent`]).
    Answered { args: String, attachments: Vec<Vec<u8>> },
    /// "operation has timed out" or "socket has been disconnected".
    Failed(String),
}

/// Runs once with the ack's outcome, on the socket's event queue.
pub type AckCallback = Box<dyn FnOnce(&AckOutcome) + Send>;

/// One event of a socket, in the order it happened.
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
    /// The server emitted an event.
    Message(IncomingEvent),
    /// An emit's ack arrived, timed out, or was failed by a disconnection.
    AckResult { callback: AckCallback, outcome: AckOutcome },
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Connect => write!(f, "Connect"),
            Event::Disconnect { reason } => write!(f, "Disconnect({reason})"),
            Event::Error { message, data } => write!(f, "Error({message}, {data})"),
            Event::ReconnectAttempt(n) => write!(f, "ReconnectAttempt({n})"),
            Event::Reconnect(n) => write!(f, "Reconnect({n})"),
            Event::ReconnectFailed => write!(f, "ReconnectFailed"),
            Event::Message(event) => write!(f, "Message({event:?})"),
            Event::AckResult { outcome, .. } => write!(f, "AckResult({outcome:?})"),
        }
    }
}

impl Event {
    /// What the event weighs in the connection's [`ReceiveGate`]: `Some(bytes)` for the events that
    /// carry what the server sent (server events, answered acks), `None` for lifecycle events, which
    /// are never held back. The IO side charges exactly these, the consumer discharges exactly these.
    ///
    /// [`ReceiveGate`]: super::flow::ReceiveGate
    pub fn flow_cost(&self) -> Option<usize> {
        match self {
            Event::Message(event) => {
                Some(event.name.len() + event.args.len() + event.attachments.iter().map(Vec::len).sum::<usize>())
            }
            Event::AckResult { outcome: AckOutcome::Answered { args, attachments }, .. } => {
                Some(args.len() + attachments.iter().map(Vec::len).sum::<usize>())
            }
            _ => None,
        }
    }
}

/// Receives a socket's events; the dispatcher implements it. Nothing here may block on user code.
pub trait EventSink: Send + Sync + 'static {
    /// One event, in order after every event delivered before it.
    fn deliver(&self, event: Event);

    /// Several events at once, in order (the hot path: one hand-off and at most one wake-up for the
    /// batch). Drains `events` and leaves its capacity for the next batch.
    fn deliver_batch(&self, events: &mut Vec<Event>) {
        for event in events.drain(..) {
            self.deliver(event);
        }
    }

    /// The connection's receive gate: the sink discharges each event's [`Event::flow_cost`] once the
    /// event left its queue. Called once, when the socket is attached to its connection.
    fn attach_gate(&self, _gate: std::sync::Arc<super::flow::ReceiveGate>) {}
}
