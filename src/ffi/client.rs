//! `realtime_client`: create, connect, query, listen, free.

use super::{boundary, boundary_status, optional_str, required_str, to_cstring};
use crate::client::{Event, EventSink, Socket};
use crate::dispatch::{Callback, Dispatcher, EventKind, Executor, Finalizer};
use crate::error::{Error, Result};
use crate::ffi::realtime_status;
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// A realtime client: one Socket.IO socket (the URL's namespace) and the connection it runs on.
/// Opaque; create with realtime_new(), release with realtime_free().
pub struct realtime_client {
    _opaque: [u8; 0],
}

/// What a handle stands for.
pub(super) struct ClientEntry {
    pub(super) socket: Socket,
    pub(super) dispatcher: Arc<Dispatcher>,
}

static CLIENTS: Lazy<RwLock<HashMap<usize, Arc<ClientEntry>>>> = Lazy::new(|| RwLock::new(HashMap::new()));
/// Handle values: never 0, never reused within a process.
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(1);

pub(super) fn register(entry: ClientEntry) -> *mut realtime_client {
    let key = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed) << 4;
    CLIENTS.write().unwrap_or_else(|p| p.into_inner()).insert(key, Arc::new(entry));
    std::ptr::without_provenance_mut(key)
}

/// The live client behind a handle. Anything but `realtime_on_*` also ends the initial event hold:
/// the application is done registering.
pub(super) fn lookup(client: *const realtime_client) -> Result<Arc<ClientEntry>> {
    if client.is_null() {
        return Err(Error::InvalidArgument("client is NULL".to_owned()));
    }
    let clients = CLIENTS.read().unwrap_or_else(|p| p.into_inner());
    clients.get(&(client as usize)).cloned().ok_or(Error::InvalidHandle)
}

pub(super) fn lookup_released(client: *const realtime_client) -> Result<Arc<ClientEntry>> {
    let entry = lookup(client)?;
    entry.dispatcher.release();
    Ok(entry)
}

/// Creates a client for `url` and, unless `"autoConnect": false`, starts connecting at once.
///
/// - `url`: `http://`, `https://`, `ws://` or `wss://` with a host; the URL path is the Socket.IO
///   namespace (`"http://localhost:3000/admin"` joins `/admin`), its query is sent with the handshake.
///   Borrowed for the call.
/// - `options_json`: NULL, or a JSON object of options (see the README); an unknown key or a wrong type
///   fails with a message naming the key. Borrowed for the call.
///
/// Returns a handle to free with realtime_free(), or NULL on bad input (the reason is in
/// realtime_last_error()). Thread: any.
///
/// Listeners registered right after realtime_new() never miss the first events: until the
/// application calls anything on the client other than the realtime_on_* registrations (or for at
/// most 50 ms), an event that has no listener yet waits for one. An event that has its listener is
/// delivered at once.
#[no_mangle]
pub unsafe extern "C" fn realtime_new(url: *const c_char, options_json: *const c_char) -> *mut realtime_client {
    // SAFETY: forwarded from the caller.
    unsafe { new_client(url, options_json, Executor::next_thread) }
}

/// realtime_new() with the executor `executor()` gives.
///
/// # Safety
/// As realtime_new().
pub(super) unsafe fn new_client(
    url: *const c_char,
    options_json: *const c_char,
    executor: impl FnOnce() -> Executor,
) -> *mut realtime_client {
    boundary(std::ptr::null_mut(), || {
        // SAFETY: the caller passes NULL or NUL-terminated strings valid for the call.
        let url = unsafe { required_str(url, "url") }?;
        // SAFETY: as above.
        let options = unsafe { optional_str(options_json, "options_json") }?;
        let dispatcher = Dispatcher::with_executor(executor());
        let socket = Socket::new(url, options, Arc::clone(&dispatcher) as Arc<dyn EventSink>)?;
        Ok(register(ClientEntry { socket, dispatcher }))
    })
}

/// Closes the client and releases it. NULL (or a handle freed already) is a no-op.
///
/// Called outside any callback of this library, it returns only when no callback of this client is
/// running, and none runs afterwards: the application may then release what its `user_data` points
/// to. Called from inside a callback (of this client or of another one), it returns at once, because
/// waiting there could deadlock (two clients freeing each other from their callbacks): no callback of
/// this client starts afterwards, but one may still be finishing on another thread, so release its
/// `user_data` only once that callback is known to be done. It never waits on the network.
/// Thread: any.
#[no_mangle]
pub extern "C" fn realtime_free(client: *mut realtime_client) {
    boundary((), || {
        if client.is_null() {
            return Ok(());
        }
        let entry = CLIENTS.write().unwrap_or_else(|p| p.into_inner()).remove(&(client as usize));
        if let Some(entry) = entry {
            entry.dispatcher.close();
            // The socket leaves its namespace and the connection closes once no other thread
            // still holds the entry (a call racing with this one).
            drop(entry);
        }
        Ok(())
    })
}

/// Connects: idempotent (OK when connected or connecting already), and re-enables reconnection after
/// realtime_close(). The result arrives as on_connect or on_error.
///
/// Returns REALTIME_STATUS_OK, or an error status for a NULL or freed client. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_open(client: *mut realtime_client) -> realtime_status {
    boundary_status(|| lookup_released(client)?.socket.open())
}

/// Disconnects: idempotent (OK when closed already). No reconnection follows until realtime_open().
/// If the client was connected, is_connected is false when this returns and on_disconnect receives
/// "io client disconnect".
///
/// Returns REALTIME_STATUS_OK, or an error status for a NULL or freed client. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_close(client: *mut realtime_client) -> realtime_status {
    boundary_status(|| lookup_released(client)?.socket.close())
}

/// Tells the client that the network changed (e.g. Wi-Fi to cellular) or that the app returned to the
/// foreground: a connection that looks alive may be dead without either side knowing yet. The client
/// drops its connection (on_disconnect gets "transport close") and connects again at once, skipping the
/// backoff delay, also with `"reconnection": false` (the application asked for it). A connection attempt
/// already under way (perhaps stuck on the old network until its timeout) is replaced by a fresh one
/// at once; a reconnection waiting for its backoff delay starts now. Does nothing for a closed client.
/// The connection is shared by every namespace on it. Returns an error status for a NULL/freed client.
/// Thread: any.
#[no_mangle]
pub extern "C" fn realtime_reconnect_now(client: *mut realtime_client) -> realtime_status {
    boundary_status(|| lookup_released(client)?.socket.reconnect_now())
}

/// Whether the client is connected to its namespace now. false for a NULL or freed client.
/// Thread: any.
#[no_mangle]
pub extern "C" fn realtime_is_connected(client: *const realtime_client) -> bool {
    boundary(false, || Ok(lookup_released(client)?.socket.is_connected()))
}

/// The socket id the server gave this connection (as the server's `socket.id`).
///
/// When `buf_len > 0`, copies the id into `buf`, truncated to fit and always NUL-terminated.
/// Returns the id's full length without the NUL (a return ≥ buf_len means it was truncated), or 0 when
/// not connected, for a NULL or freed client, or when `buf` is NULL with `buf_len > 0`.
/// `buf` may be NULL when `buf_len` is 0, to ask the length. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_socket_id(client: *const realtime_client, buf: *mut c_char, buf_len: usize) -> usize {
    boundary(0, || {
        let entry = lookup_released(client)?;
        if buf.is_null() && buf_len > 0 {
            return Err(Error::InvalidArgument("buf is NULL".to_owned()));
        }
        let Some(id) = entry.socket.id() else {
            return Ok(0);
        };
        if buf_len > 0 {
            let copied = id.len().min(buf_len - 1);
            // SAFETY: `buf` is non-NULL and the caller promises `buf_len` writable bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(id.as_ptr().cast::<c_char>(), buf, copied);
                *buf.add(copied) = 0;
            }
        }
        Ok(id.len())
    })
}

/// The application's `user_data`, handed back untouched; the library never dereferences it.
#[derive(Clone, Copy)]
pub(super) struct UserData(pub(super) *mut c_void);
// SAFETY: the library only passes the pointer back to the application's own callbacks; the
// application decides what may be shared across threads (the header says callbacks run on library
// threads).
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// A C finalizer: called once with a listener's (or an ack's) `user_data` after its last callback.
pub type realtime_finalizer_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The core finalizer that calls a C one with `user_data`.
pub(super) fn c_finalizer(finalizer: unsafe extern "C" fn(*mut c_void), user_data: *mut c_void) -> Finalizer {
    let user_data = UserData(user_data);
    Box::new(move || {
        let user_data = user_data;
        // SAFETY: the application registered `finalizer` for this `user_data`; it runs once.
        unsafe { finalizer(user_data.0) }
    })
}

pub(super) fn add_listener(
    client: *mut realtime_client,
    kind: EventKind,
    once: bool,
    callback: Option<Callback>,
    user_data: *mut c_void,
    finalizer: realtime_finalizer_fn,
) -> u64 {
    boundary(0, || {
        let entry = lookup(client)?;
        let callback = callback.ok_or_else(|| Error::InvalidArgument("callback is NULL".to_owned()))?;
        let finalizer = finalizer.map(|f| c_finalizer(f, user_data));
        Ok(entry.dispatcher.add_listener_with(kind, once, callback, user_data as usize, finalizer))
    })
}

/// Registers C callback `cb` for `kind`; `call` turns an event into the C call (and ignores others).
pub(super) fn register_callback<F: Copy + Send + Sync + 'static>(
    client: *mut realtime_client,
    kind: EventKind,
    once: bool,
    cb: Option<F>,
    user_data: *mut c_void,
    call: fn(F, *mut c_void, &Event),
) -> u64 {
    register_callback_with(client, kind, once, cb, user_data, call, None)
}

/// [`register_callback`] with a finalizer for `user_data`.
pub(super) fn register_callback_with<F: Copy + Send + Sync + 'static>(
    client: *mut realtime_client,
    kind: EventKind,
    once: bool,
    cb: Option<F>,
    user_data: *mut c_void,
    call: fn(F, *mut c_void, &Event),
    finalizer: realtime_finalizer_fn,
) -> u64 {
    let context = UserData(user_data);
    let callback = cb.map(|cb| -> Callback {
        Arc::new(move |event: &Event| {
            let context = context;
            call(cb, context.0, event)
        })
    });
    add_listener(client, kind, once, callback, user_data, finalizer)
}

/// Listens for connections: `cb(user_data)` runs each time the namespace is joined (first connect and
/// every reconnect). Returns a listener id (> 0) for realtime_off(), or 0 for a NULL/freed client or
/// a NULL `cb`. `user_data` is passed back untouched. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_connect(
    client: *mut realtime_client,
    cb: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    user_data: *mut c_void,
) -> u64 {
    // SAFETY (each call below): the application registered `cb` with this `user_data`, and every
    // string passed outlives the call.
    register_callback(client, EventKind::Connect, false, cb, user_data, |cb, ud, _| unsafe { cb(ud) })
}

/// Listens for disconnections: `cb(user_data, reason)`, with socket.io-client's reason strings:
/// "io server disconnect", "io client disconnect", "ping timeout", "transport close",
/// "transport error", "parse error". `reason` is borrowed for the call. Inside the callback
/// realtime_is_connected() is already false and realtime_socket_id() returns 0.
/// Returns a listener id (> 0), or 0 on bad input. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_disconnect(
    client: *mut realtime_client,
    cb: Option<unsafe extern "C" fn(user_data: *mut c_void, reason: *const c_char)>,
    user_data: *mut c_void,
) -> u64 {
    register_callback(client, EventKind::Disconnect, false, cb, user_data, |cb, ud, event| {
        if let Event::Disconnect { reason } = event {
            let reason = to_cstring(reason);
            // SAFETY: see realtime_on_connect.
            unsafe { cb(ud, reason.as_ptr()) }
        }
    })
}

/// Listens for connection errors: `cb(user_data, message, data_json)` when a connection attempt fails
/// (transport error, TLS failure, timeout, HTTP refusal) or the server refuses the namespace (a
/// middleware error: `message` is the error's message and `data_json` the JSON text of its `data`).
/// `data_json` is "null" when the server said nothing more (always for local failures such as a
/// refused TCP connection or a timeout); an HTTP refusal of the upgrade gives {"status":…,"body":…}.
/// After a refusal by the server no retry is made until realtime_open(). Both strings are borrowed for
/// the call. Returns a listener id (> 0), or 0 on bad input. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_error(
    client: *mut realtime_client,
    cb: Option<unsafe extern "C" fn(user_data: *mut c_void, message: *const c_char, data_json: *const c_char)>,
    user_data: *mut c_void,
) -> u64 {
    register_callback(client, EventKind::Error, false, cb, user_data, |cb, ud, event| {
        if let Event::Error { message, data } = event {
            let message = to_cstring(message);
            let data = to_cstring(&data.to_string());
            // SAFETY: see realtime_on_connect.
            unsafe { cb(ud, message.as_ptr(), data.as_ptr()) }
        }
    })
}

/// Listens for reconnection attempts: `cb(user_data, attempt)` just before each attempt, numbered
/// from 1 (the count restarts after a successful reconnection). Returns a listener id (> 0), or 0 on
/// bad input. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_reconnect_attempt(
    client: *mut realtime_client,
    cb: Option<unsafe extern "C" fn(user_data: *mut c_void, attempt: u32)>,
    user_data: *mut c_void,
) -> u64 {
    register_callback(client, EventKind::ReconnectAttempt, false, cb, user_data, |cb, ud, event| {
        if let Event::ReconnectAttempt(attempt) = event {
            // SAFETY: see realtime_on_connect.
            unsafe { cb(ud, *attempt) }
        }
    })
}

/// Listens for successful reconnections: `cb(user_data, attempts)` when the transport is open again,
/// before on_connect, with the number of attempts it took. Returns a listener id (> 0), or 0 on bad
/// input. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_reconnect(
    client: *mut realtime_client,
    cb: Option<unsafe extern "C" fn(user_data: *mut c_void, attempts: u32)>,
    user_data: *mut c_void,
) -> u64 {
    register_callback(client, EventKind::Reconnect, false, cb, user_data, |cb, ud, event| {
        if let Event::Reconnect(attempts) = event {
            // SAFETY: see realtime_on_connect.
            unsafe { cb(ud, *attempts) }
        }
    })
}

/// Listens for the end of reconnection: `cb(user_data)` once `reconnectionAttempts` attempts have
/// failed; nothing more is tried until realtime_open(). Returns a listener id (> 0), or 0 on bad
/// input. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_reconnect_failed(
    client: *mut realtime_client,
    cb: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    user_data: *mut c_void,
) -> u64 {
    // SAFETY: see realtime_on_connect.
    register_callback(client, EventKind::ReconnectFailed, false, cb, user_data, |cb, ud, _| unsafe { cb(ud) })
}

/// Removes the listener `listener_id`; it never starts again. Called outside any callback of this
/// library, also waits until it is not running (inside a callback it returns at once, as
/// realtime_free() does). Returns REALTIME_STATUS_UNKNOWN_LISTENER when no
/// listener of this client has that id, or an error status for a NULL/freed client. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_off(client: *mut realtime_client, listener_id: u64) -> realtime_status {
    boundary_status(|| {
        let entry = lookup(client)?;
        if entry.dispatcher.remove_listener(listener_id) {
            Ok(())
        } else if entry.dispatcher.is_closed() {
            // Freed by another thread while this call was under way.
            Err(Error::InvalidHandle)
        } else {
            Err(Error::UnknownListener(listener_id))
        }
    })
}
