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
mod status;

pub use channels::*;
pub use client::*;
pub use events::*;
pub use status::*;

use crate::error::Error;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<(realtime_status, CString)> = RefCell::new((realtime_status::Ok, CString::default()));
}

/// Records `error` as this thread's last error and returns its status.
pub(crate) fn fail(error: &Error) -> realtime_status {
    let status = realtime_status::from(error);
    LAST_ERROR.with(|last| *last.borrow_mut() = (status, to_cstring(&error.to_string())));
    status
}

/// Runs an export's body, turning a panic into an `Internal` error so it never crosses into C.
fn run<T>(body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        Err(Error::Internal(message))
    })
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

/// This thread's last failure message; `""` when none; never NULL. Valid until the next failing call
/// on this thread.
///
/// Thread: any. The returned string is owned by the library; do not free it.
#[no_mangle]
pub extern "C" fn realtime_last_error() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().1.as_ptr())
}

/// The status of this thread's last failure (the one realtime_last_error() describes), or
/// REALTIME_STATUS_OK when none: tells why a function that returns NULL or 0 failed, e.g.
/// REALTIME_STATUS_UNKNOWN_OPTION from realtime_new(). Thread: any.
#[no_mangle]
pub extern "C" fn realtime_last_error_status() -> realtime_status {
    LAST_ERROR.with(|last| last.borrow().0)
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
