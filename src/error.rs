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
    /// A bug in the library, reported instead of crossing the C boundary as a panic.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
