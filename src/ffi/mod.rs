#![allow(non_camel_case_types)]
// C names: realtime_client, realtime_status, realtime_event_fn, …
// Every export documents its pointer rules for C programmers (the header is the reference), which is
// the safety contract; a Rust-style "# Safety" heading would only repeat it in the generated header.
#![allow(clippy::missing_safety_doc)]

//! The `extern "C"` surface. Each export checks its arguments, converts them, and makes one call into
//! the core, inside a panic boundary. Nothing here knows the protocol.
//!
//! Client handles are not pointers to memory: they are keys into a table of live clients. A handle
//! used after `realtime_free` is reported as `REALTIME_STATUS_INVALID_HANDLE` instead of crashing,
//! and a call racing with `realtime_free` on another thread is memory-safe.

mod client;
mod events;
mod channels;
mod delivery;
mod auth;
mod transport;
mod status;
mod logging;

pub use auth::*;
pub use channels::*;
pub use client::*;
pub use delivery::*;
pub use events::*;
pub use logging::*;
pub use status::*;
pub use transport::*;

use crate::error::Error;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// This thread's last error: its status and its NUL-terminated message.
struct LastError {
    status: realtime_status,
    message: Vec<u8>,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> =
        RefCell::new(LastError { status: realtime_status::Ok, message: vec![0] });
}

/// Records `error` as this thread's last error and returns its status.
pub(crate) fn fail(error: &Error) -> realtime_status {
    let status = realtime_status::from(error);
    let message = to_cstring(&error.to_string()).into_bytes_with_nul();
    LAST_ERROR.with(|last| *last.borrow_mut() = LastError { status, message });
    status
}

/// An export succeeded: this thread's last error is cleared (OK, ""). The message is emptied in place,
/// so a pointer from realtime_last_error() stays valid until the next failing call, as documented.
fn succeeded() {
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        if last.status != realtime_status::Ok || last.message[0] != 0 {
            last.status = realtime_status::Ok;
            last.message[0] = 0;
        }
    });
}

/// Runs an export's body, turning a panic into an `Internal` error so it never crosses into C; a
/// success clears this thread's last error.
fn run<T>(body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        Err(Error::Internal(message))
    });
    if result.is_ok() {
        succeeded();
    }
    result
}

/// For exports returning a value: on failure, records the error and returns `fallback`.
pub(crate) fn boundary<T>(fallback: T, body: impl FnOnce() -> Result<T, Error>) -> T {
    run(body).unwrap_or_else(|error| {
        fail(&error);
        fallback
    })
}

/// For exports returning a status.
pub(crate) fn boundary_status(body: impl FnOnce() -> Result<(), Error>) -> realtime_status {
    match run(body) {
        Ok(()) => realtime_status::Ok,
        Err(error) => fail(&error),
    }
}

/// Borrows a required C string argument as UTF-8.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid for the call.
pub(crate) unsafe fn required_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::InvalidArgument(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string valid for the call.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| Error::InvalidArgument(format!("{name} is not valid UTF-8")))
}

/// Borrows an optional C string argument (NULL → `None`).
///
/// # Safety
/// As [`required_str`].
pub(crate) unsafe fn optional_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { required_str(ptr, name) }.map(Some)
    }
}

/// A C string for a callback: interior NULs (which C cannot see past) become U+FFFD.
pub(crate) fn to_cstring(text: &str) -> CString {
    CString::new(text).unwrap_or_else(|_| CString::new(text.replace('\0', "\u{FFFD}")).expect("no NUL left"))
}

/// The message of this thread's last call's failure; `""` when the last call succeeded; never NULL.
///
/// When it is set: every function of this library except realtime_last_error(),
/// realtime_last_error_status(), realtime_status_str() and realtime_version() sets it on the calling
/// thread — to the failure's message when the call fails, to `""` when it succeeds (a 0 or NULL that is
/// not a failure, such as realtime_socket_id() on a client not connected, leaves `""`). Read it right
/// after the call it describes. The pointer stays valid (its text may become `""`) until the next
/// failing call on this thread.
///
/// Thread: any. The returned string is owned by the library; do not free it.
#[no_mangle]
pub extern "C" fn realtime_last_error() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().message.as_ptr().cast())
}

/// The status of this thread's last call (the failure realtime_last_error() describes), set by the same
/// functions and at the same time: REALTIME_STATUS_OK when that call succeeded, otherwise why it
/// failed — e.g. REALTIME_STATUS_UNKNOWN_OPTION from realtime_new(), or, after realtime_socket_id()
/// returned 0, REALTIME_STATUS_OK for "not connected" against an error status for a bad handle.
/// Thread: any.
#[no_mangle]
pub extern "C" fn realtime_last_error_status() -> realtime_status {
    LAST_ERROR.with(|last| last.borrow().status)
}

/// The library version, e.g. `"0.1.0"`. Static storage; never NULL.
#[no_mangle]
pub extern "C" fn realtime_version() -> *const c_char {
    static VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}
