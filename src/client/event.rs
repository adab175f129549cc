//! What a socket tells the application, and the sink it tells it through.

use crate::protocol::json;
use serde_json::Value;
use std::borrow::Cow;

/// An event the server emitted to this socket.
///
/// Holds the packet's own text, rearranged in place (no copy): for `["ev",1,{"a":2}]` the comma
/// after the name becomes `[`, so the arguments `[1,{"a":2}]` are a suffix of it and the name a
/// range before them. Only a name with escapes (decoded into its own string) or a number name with
/// no arguments costs an allocation of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingEvent {
    text: String,
    name: NameSpan,
    /// Where the arguments start in `text` (they run to its end).
    args_at: usize,
    pub attachments: Vec<Vec<u8>>,
    /// The handle to answer the server's ack request with (`Socket::answer_ack`), if it asked for one.
    pub ack: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
enum NameSpan {
    In(usize, usize),
    Owned(String),
}

impl IncomingEvent {
    /// An event from its name and its arguments' JSON array text.
    pub fn new(name: String, args: String, attachments: Vec<Vec<u8>>, ack: Option<u64>) -> Self {
        Self { text: args, name: NameSpan::Owned(name), args_at: 0, attachments, ack }
    }

    /// From an EVENT's data, the JSON array text `[name, ...args]` (validated), rearranged in place.
    /// `None` when the first element is not a valid event name.
    pub fn from_packet_text(mut text: String, attachments: Vec<Vec<u8>>, ack: Option<u64>) -> Option<Self> {
        let (first, rest) = json::split_first_element(&text)?;
        let base = text.as_ptr() as usize;
        let first_at = first.as_ptr() as usize - base;
        let first_end = first_at + first.len();
        let rest_at = rest.as_ptr() as usize - base;
        let name = match json::decode_string_cow(first) {
            Some(Cow::Borrowed(inner)) => {
                let at = inner.as_ptr() as usize - base;
                NameSpan::In(at, at + inner.len())
            }
            Some(Cow::Owned(decoded)) => NameSpan::Owned(decoded),
            None if first.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => NameSpan::In(first_at, first_end),
            None => return None,
        };
        let args_at = if rest.starts_with(',') {
            // `,` → `[`: the arguments are the rest of the text.
            text.replace_range(rest_at..rest_at + 1, "[");
            rest_at
        } else if first.starts_with('"') {
            // No arguments: `"]` after the name becomes `[]` (the name is inside the quotes).
            text.truncate(first_end - 1);
            text.push_str("[]");
            first_end - 1
        } else {
            // A number name and no arguments.
            let name = text[first_at..first_end].to_owned();
            return Some(Self::new(name, "[]".to_owned(), attachments, ack));
        };
        Some(Self { text, name, args_at, attachments, ack })
    }

    /// The event name, decoded (a lone surrogate escape in it becomes U+FFFD).
    pub fn name(&self) -> &str {
        match &self.name {
            NameSpan::In(start, end) => &self.text[*start..*end],
            NameSpan::Owned(name) => name,
        }
    }

    /// The arguments after the name, as the JSON array text the server sent them (byte for byte:
    /// escapes, numbers and key order as sent); binary arguments are `{"_placeholder":true,"num":i}`
    /// objects referring to `attachments[i]`.
    pub fn args(&self) -> &str {
        &self.text[self.args_at..]
    }
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

/// Where a tracked emit is (`realtime_emit_tracked`). `Queued` and `Sent` may repeat (a message
/// requeued after a lost connection is queued and sent again); exactly one of the last three ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    /// Waiting offline for the connection.
    Queued,
    /// Handed to the connection.
    Sent,
    /// The server acknowledged it; the detail is its answer (a JSON array text).
    Acked,
    /// The time to live passed before it could be sent: it never was.
    Expired,
    /// Sent, but not acknowledged within the time to live, or the socket was closed; the detail says why.
    Failed,
}

/// Receives each status of a tracked emit with its detail (`""` when there is none), on the socket's
/// event queue, in order with its other events.
pub type StatusSink = std::sync::Arc<dyn Fn(MessageStatus, &str) + Send + Sync>;

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
                Some(event.name().len() + event.args().len() + event.attachments.iter().map(Vec::len).sum::<usize>())
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
