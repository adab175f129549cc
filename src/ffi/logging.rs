//! The logging hook: the library's own records, to a handler of the application's.

use super::{boundary_status, realtime_status, to_cstring};
use crate::error::Error;
use std::ffi::{c_char, c_void};

/// The level of a log record, most severe first; also the most verbose level a handler asks for.
/// The values never change.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum realtime_log_level {
    /// No records (as a minimum level: logging off).
    Off = 0,
    /// The client cannot do what it was asked (a bound dropped data, a callback panicked).
    Error = 1,
    /// A connection attempt failed, TLS refused a certificate, an emit was refused by a bound, the
    /// client gave up reconnecting.
    Warn = 2,
    /// State changes: connecting (URL, attempt), connected (transport, heartbeat), disconnected
    /// (reason), reconnect scheduled (delay), namespaces connected or refused.
    Info = 3,
    /// Handshake details, upgrades, backpressure pauses, volatile emits dropped.
    Debug = 4,
    /// Every packet in and out (type, namespace, size; never its arguments).
    Trace = 5,
}

/// A log level as functions take it from C (any int value is safe there).
pub type LogLevelCode = i32;

/// Receives one log record: `target` names the part of the library (`realtime::client::manager`, …),
/// `message` is one line of text without a trailing newline, secrets already redacted. Both are
/// borrowed for the call. Runs on the thread that made the record (an IO thread, a callback thread or
/// the thread of a realtime_* call): return quickly and do not block.
pub type realtime_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: realtime_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

struct UserData(*mut c_void);
// SAFETY: the application hands `user_data` over for calls on any thread, as documented.
unsafe impl Send for UserData {}
// SAFETY: as above; the library only passes the pointer back.
unsafe impl Sync for UserData {}

fn level_arg(level: LogLevelCode) -> Result<log::LevelFilter, Error> {
    Ok(match level {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        5 => log::LevelFilter::Trace,
        other => {
            return Err(Error::InvalidArgument(format!(
                "log level {other}: REALTIME_LOG_LEVEL_OFF (0) to REALTIME_LOG_LEVEL_TRACE (5)"
            )))
        }
    })
}

fn c_level(level: log::Level) -> realtime_log_level {
    match level {
        log::Level::Error => realtime_log_level::Error,
        log::Level::Warn => realtime_log_level::Warn,
        log::Level::Info => realtime_log_level::Info,
        log::Level::Debug => realtime_log_level::Debug,
        log::Level::Trace => realtime_log_level::Trace,
    }
}

/// Sends the library's log records of `min_level` and more severe to `cb(user_data, …)`, for the
/// whole process (every client). Off by default. `cb` NULL or `min_level` REALTIME_LOG_LEVEL_OFF
/// turns logging off; a second call replaces the handler.
///
/// Records never carry a secret: auth payloads and header values are never logged, and every record's
/// text is redacted (URL user-info, query values and JSON members named like secrets — token, key,
/// secret, password, auth, session, sig, … —, Authorization / Proxy-Authorization / Cookie values,
/// Bearer and Basic credentials become `[redacted]`).
///
/// When it returns, no call of the previous handler is running or will start (except the caller's
/// own, when it is called from inside that handler): the previous `user_data` may be freed. A handler
/// may call any function of this library; records made inside it on its thread are dropped (no
/// recursion). Returns REALTIME_STATUS_INVALID_ARGUMENT for a level outside 0..5. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_set_log_handler(
    min_level: LogLevelCode,
    cb: realtime_log_fn,
    user_data: *mut c_void,
) -> realtime_status {
    boundary_status(|| {
        let level = level_arg(min_level)?;
        let sink: Option<crate::logging::Sink> = match cb {
            Some(cb) if level != log::LevelFilter::Off => {
                let user_data = UserData(user_data);
                Some(Box::new(move |level: log::Level, target: &str, message: &str| {
                    let target = to_cstring(target);
                    let message = to_cstring(message);
                    let user_data = &user_data;
                    // SAFETY: the application's callback, with the pointers it gave; the strings live
                    // for the call.
                    unsafe { cb(user_data.0, c_level(level), target.as_ptr(), message.as_ptr()) }
                }))
            }
            _ => None,
        };
        crate::logging::set_handler(level, sink).map_err(Error::Internal)
    })
}
