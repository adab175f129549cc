//! `realtime_status`: the result of every call that can fail synchronously.

use crate::error::Error;
use std::ffi::{c_char, CStr};

/// The result of a call. `REALTIME_STATUS_OK` is 0; the values never change between versions.
/// On any other value, realtime_last_error() tells what went wrong.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum realtime_status {
    /// Success.
    Ok = 0,
    /// A required argument was NULL or not valid UTF-8.
    InvalidArgument = 1,
    /// The URL is not an http, https, ws or wss URL with a host.
    InvalidUrl = 2,
    /// The options JSON is malformed, or an option has the wrong type or range.
    InvalidOptions = 3,
    /// The options JSON has a key the library does not know (the message names it).
    UnknownOption = 4,
    /// The client handle was freed already, or never came from realtime_new().
    InvalidHandle = 5,
    /// No listener has that id.
    UnknownListener = 6,
    /// The event name is reserved by the protocol (connect, disconnect, ...).
    ReservedEvent = 7,
    /// The offline send buffer is full (see the maxBufferedEmits option).
    BufferFull = 8,
    /// A frame would exceed the server's maxPayload.
    PayloadTooLarge = 9,
    /// No pending server ack request has that id (answered already, or its connection is gone).
    UnknownAck = 10,
    /// The namespace is already open on this connection.
    NamespaceInUse = 11,
    /// Would block: the send queue is full. While connected, at most maxQueuedBytes bytes of emits
    /// wait for the socket (a slow or frozen server); this emit was not queued. Try again later.
    WouldBlock = 12,
    /// The process-wide runtime has started already, with other settings (see
    /// realtime_runtime_configure()).
    AlreadyStarted = 13,
    /// A bug in the library (reported instead of crashing).
    Internal = 100,
}

impl From<&Error> for realtime_status {
    fn from(error: &Error) -> Self {
        match error {
            Error::InvalidArgument(_) => Self::InvalidArgument,
            Error::InvalidUrl { .. } => Self::InvalidUrl,
            Error::InvalidOptions(_) => Self::InvalidOptions,
            Error::UnknownOption(_) => Self::UnknownOption,
            Error::InvalidHandle => Self::InvalidHandle,
            Error::UnknownListener(_) => Self::UnknownListener,
            Error::ReservedEvent(_) => Self::ReservedEvent,
            Error::BufferFull(_) => Self::BufferFull,
            Error::PayloadTooLarge { .. } => Self::PayloadTooLarge,
            Error::UnknownAck(_) => Self::UnknownAck,
            Error::NamespaceInUse(_) => Self::NamespaceInUse,
            Error::WouldBlock { .. } => Self::WouldBlock,
            Error::AlreadyStarted(_) => Self::AlreadyStarted,
            Error::Internal(_) => Self::Internal,
        }
    }
}

/// The status as an integer, for functions that take one from C (any int value is safe there).
pub type StatusCode = i32;

/// A short, static, English description of `status` (e.g. "ok", "invalid argument"); "unknown status"
/// for a value this version does not define. Never NULL; do not free.
///
/// Thread: any.
#[no_mangle]
pub extern "C" fn realtime_status_str(status: StatusCode) -> *const c_char {
    let text: &CStr = match status {
        0 => c"ok",
        1 => c"invalid argument",
        2 => c"invalid URL",
        3 => c"invalid options",
        4 => c"unknown option",
        5 => c"invalid client handle",
        6 => c"unknown listener",
        7 => c"reserved event name",
        8 => c"send buffer full",
        9 => c"payload too large",
        10 => c"unknown ack",
        11 => c"namespace in use",
        12 => c"would block: the send queue is full",
        13 => c"already started",
        100 => c"internal error",
        _ => c"unknown status",
    };
    text.as_ptr()
}
