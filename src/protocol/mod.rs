//! Pure protocol code: Engine.IO v4 and Socket.IO v5 codecs, binary attachment reassembly and
//! socket.io-client's reconnection backoff. No IO, no tokio, no clocks: everything here is a function
//! of its inputs, so it is unit-tested and fuzzable on its own.

pub mod backoff;
pub mod engineio;
pub mod socketio;

pub use backoff::ReconnectBackoff;
pub use engineio::{EnginePacket, Handshake};
pub use socketio::{BinaryReassembler, Packet, PacketType};

/// A packet that does not follow the protocol. Never a panic: every malformed input is one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("empty packet")]
    Empty,
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownEngineType(char),
    #[error("unknown Socket.IO packet type {0:?}")]
    UnknownSocketType(char),
    #[error("invalid handshake: {0}")]
    BadHandshake(String),
    #[error("invalid attachment count")]
    BadAttachmentCount,
    #[error("too many attachments: {0} (at most {max})", max = socketio::MAX_ATTACHMENTS)]
    TooManyAttachments(usize),
    #[error("invalid ack id")]
    BadAckId,
    #[error("invalid JSON payload: {0}")]
    BadJson(String),
    #[error("invalid payload for a {0:?} packet")]
    BadPayload(PacketType),
    #[error("reserved event name {0:?}")]
    ReservedEvent(String),
    #[error("binary frame without a pending binary packet")]
    UnexpectedBinary,
    #[error("text frame while {0} attachment(s) are still expected")]
    UnexpectedText(usize),
    #[error("invalid attachment placeholder")]
    BadPlaceholder,
}
