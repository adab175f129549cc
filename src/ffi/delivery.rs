//! Where and when callbacks run: the process's thread counts, poll mode (callbacks on the
//! application's own thread), and finalizers for `user_data`.

use super::client::{c_finalizer, lookup, new_client, realtime_client, realtime_finalizer_fn};
use super::{boundary, boundary_status};
use crate::dispatch::{self, Executor, Poller};
use crate::error::Error;
use crate::ffi::realtime_status;
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::ffi::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// Sets, once per process and before the first client, how many IO threads (the network) and
/// callback threads (where callbacks run, unless in poll mode) the library starts; 0 keeps the
/// default (2 each, or the `REALTIME_IO_THREADS` / `REALTIME_CALLBACK_THREADS` environment variables
/// when set). At most 64 each. Returns REALTIME_STATUS_ALREADY_STARTED when threads of that kind
/// already run with another count (asking for the running count, or 0, is OK). Thread: any.
#[no_mangle]
pub extern "C" fn realtime_runtime_configure(io_threads: u32, callback_threads: u32) -> realtime_status {
    boundary_status(|| {
        crate::client::runtime::configure_io_threads(io_threads as usize)
            .map_err(|n| Error::AlreadyStarted(format!("{n} IO threads run")))?;
        dispatch::configure_callback_threads(callback_threads as usize)
            .map_err(|n| Error::AlreadyStarted(format!("{n} callback threads run")))?;
        Ok(())
    })
}

/// Attaches a finalizer to listener `listener_id`: `finalizer(user_data)` (with the `user_data`
/// given at registration) runs exactly once, after the listener's last possible callback — at
/// realtime_off() or realtime_free(), or when a running call of it returns — on whatever thread
/// that happens. A second call replaces the finalizer; NULL removes it. Returns
/// REALTIME_STATUS_UNKNOWN_LISTENER when the client has no such listener (removed, or a
/// once-listener that ran already: register those with realtime_once_with_free() instead).
/// Thread: any.
#[no_mangle]
pub extern "C" fn realtime_set_finalizer(
    client: *mut realtime_client,
    listener_id: u64,
    finalizer: realtime_finalizer_fn,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup(client)?;
        let found = match finalizer {
            Some(f) => {
                entry.dispatcher.set_finalizer(listener_id, |context| c_finalizer(f, context as *mut std::ffi::c_void))
            }
            None => entry.dispatcher.set_finalizer(listener_id, |_| Box::new(|| {})),
        };
        if found {
            Ok(())
        } else if entry.dispatcher.is_closed() {
            Err(Error::InvalidHandle)
        } else {
            Err(Error::UnknownListener(listener_id))
        }
    })
}

/// A set of clients whose callbacks run on the application's own thread, inside realtime_poll().
/// Opaque; create with realtime_poller_new(), release with realtime_poller_free().
pub struct realtime_poller {
    _opaque: [u8; 0],
}

static POLLERS: Lazy<RwLock<HashMap<usize, Arc<Poller>>>> = Lazy::new(|| RwLock::new(HashMap::new()));
static NEXT_POLLER: AtomicUsize = AtomicUsize::new(1);

fn lookup_poller(poller: *const realtime_poller) -> Result<Arc<Poller>, Error> {
    if poller.is_null() {
        return Err(Error::InvalidArgument("poller is NULL".to_owned()));
    }
    POLLERS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&(poller as usize))
        .cloned()
        .ok_or_else(|| Error::InvalidArgument("the poller handle is not valid (freed already?)".to_owned()))
}

/// Creates a poller. Returns NULL when the system refuses a file descriptor (see
/// realtime_last_error()). Thread: any.
#[no_mangle]
pub extern "C" fn realtime_poller_new() -> *mut realtime_poller {
    boundary(std::ptr::null_mut(), || {
        let poller =
            Poller::new().map_err(|e| Error::Internal(format!("cannot create the poller's descriptor: {e}")))?;
        let key = NEXT_POLLER.fetch_add(1, Ordering::Relaxed) << 4 | 0x8;
        POLLERS.write().unwrap_or_else(|p| p.into_inner()).insert(key, poller);
        Ok(std::ptr::without_provenance_mut(key))
    })
}

/// Releases a poller. Free its clients first: events of clients still attached are dropped from
/// then on (their connections keep running). Must not be called from inside realtime_poll() of
/// this poller. NULL (or a handle freed already) is a no-op. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_poller_free(poller: *mut realtime_poller) {
    boundary((), || {
        let removed = POLLERS.write().unwrap_or_else(|p| p.into_inner()).remove(&(poller as usize));
        if let Some(poller) = removed {
            poller.close();
        }
        Ok(())
    })
}

/// A file descriptor that is readable while callbacks of this poller's clients are due: put it in
/// your poll()/select()/epoll (or a run loop source) and call realtime_poll() when it is readable.
/// Owned by the poller: do not read, write or close it. -1 for a NULL or freed poller. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_poller_fd(poller: *const realtime_poller) -> i32 {
    boundary(-1, || Ok(lookup_poller(poller)?.fd()))
}

/// Runs, on the calling thread, the callbacks of up to `max_events` due events of this poller's
/// clients, in each client's event order, and returns how many events it handled (0 when nothing
/// was due, or for a NULL/freed poller or a call from inside a callback). Returns at once: it
/// never waits for the network. Everything of the threading contract holds: callbacks may call
/// any function (realtime_free() and realtime_close() included); realtime_free() called on another
/// thread waits until a running callback of that client returned. The receive bound
/// (`maxPendingEvents`) applies: until events are polled, the client stops reading its socket.
#[no_mangle]
pub extern "C" fn realtime_poll(poller: *mut realtime_poller, max_events: usize) -> usize {
    boundary(0, || {
        let poller = lookup_poller(poller)?;
        if dispatch::in_callback() {
            return Err(Error::InvalidArgument("realtime_poll called from inside a callback".to_owned()));
        }
        Ok(poller.poll(max_events))
    })
}

/// realtime_new() whose callbacks run inside realtime_poll() of `poller` instead of on the
/// library's callback threads (namespaces opened from it with realtime_new_namespace() too).
/// Returns NULL on bad input, including a NULL or freed poller. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_new_polled(
    poller: *mut realtime_poller,
    url: *const c_char,
    options_json: *const c_char,
) -> *mut realtime_client {
    let poller = boundary(None, || lookup_poller(poller).map(Some));
    let Some(poller) = poller else { return std::ptr::null_mut() };
    // SAFETY: forwarded from the caller.
    unsafe { new_client(url, options_json, move || Executor::Poller(poller)) }
}
