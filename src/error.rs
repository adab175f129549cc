//! The one error type of the library. Every variant maps to one `realtime_status` in the FFI layer.

/// What went wrong in a synchronous call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A required argument was NULL, not UTF-8, or otherwise unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The URL could not be used to reach a Socket.IO server.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The options JSON is not valid JSON, not an object, or has a value of the wrong type or range.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The options JSON has a key the library does not know.
    #[error("unknown option \"{0}\"")]
    UnknownOption(String),
    /// The client handle was already freed or never came from `realtime_new`.
    #[error("the client handle is not valid (freed already, or not from realtime_new)")]
    InvalidHandle,
    /// No listener has that id (never registered, or removed already).
    #[error("no listener with id {0}")]
    UnknownListener(u64),
    /// The event name is one the protocol reserves.
    #[error("\"{0}\" is a reserved event name (connect, connect_error, disconnect, disconnecting, newListener and removeListener are)")]
    ReservedEvent(String),
    /// The offline send buffer holds `maxBufferedEmits` emits already.
    #[error("the send buffer is full ({0} emits wait for the connection; see the maxBufferedEmits option)")]
    BufferFull(usize),
    /// A frame would exceed the server's `maxPayload`, which would make the server drop the connection.
    #[error("payload too large: {size} bytes in one frame, the server accepts at most {max}")]
    PayloadTooLarge { size: usize, max: u64 },
    /// No ack request has that id: answered already, or the connection that asked is gone.
    #[error("no pending ack request with id {0} (answered already, or its connection is gone)")]
    UnknownAck(u64),
    /// The namespace is already open on this connection.
    #[error("namespace {0:?} is already open on this connection")]
    NamespaceInUse(String),
    /// Connected, but `maxQueuedBytes` bytes already wait for the socket (a slow or frozen peer):
    /// nothing was queued.
    #[error("would block: the send queue is full ({queued} bytes wait for the socket, maxQueuedBytes is {max}); nothing was queued, try again once it drains")]
    WouldBlock { queued: usize, max: usize },
    /// The runtime started already with other settings.
    #[error("the realtime runtime has started already: {0}")]
    AlreadyStarted(String),
    /// A bug in the library, reported instead of crossing the C boundary as a panic.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
