//! Events and acks: emit (plain, volatile, with ack, binary), listen (on, once, on_any), answer the
//! server's ack requests; plus namespaces on a shared connection and the recovery flag.

use super::client::{
    c_finalizer, lookup, lookup_released, realtime_client, realtime_finalizer_fn, register, register_callback_with,
    ClientEntry, UserData,
};
use super::{boundary, boundary_status, optional_str, required_str, to_cstring};
use crate::client::{AckCallback, AckOutcome, EmitRequest, Event, EventSink, MessageStatus};
use crate::dispatch::{Dispatcher, EventKind};
use crate::error::{Error, Result};
use crate::ffi::realtime_status;
use serde_json::Value;
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;
use std::time::Duration;

/// A view of binary data: `len` bytes at `data`. Buffers handed to a callback are borrowed for the
/// call; buffers passed in are copied before the call returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct realtime_buffer {
    pub data: *const u8,
    pub len: usize,
}

/// A server event: `event` is its name (decoded; a lone surrogate escape in it becomes U+FFFD);
/// `args_json` the JSON array of its arguments, byte for byte as the server wrote them (escapes, lone
/// surrogates, numbers, key order and nesting depth untouched), where each binary
/// argument is `{"_placeholder":true,"num":i}` and its bytes are `buffers[i]` (`buffer_count` of
/// them); `ack_id` is non-zero when the server asked for an ack: answer it with realtime_ack().
/// Every pointer is borrowed for the duration of the call.
pub type realtime_event_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        event: *const c_char,
        args_json: *const c_char,
        buffers: *const realtime_buffer,
        buffer_count: usize,
        ack_id: u64,
    ),
>;

/// The outcome of an emit with ack: on success `error` is NULL and `args_json` (a JSON array, as the
/// server wrote it),
/// `buffers` and `buffer_count` are the server's answer; on failure `error` is "operation has timed
/// out" or "socket has been disconnected" and `args_json` is NULL. Borrowed for the call.
/// It runs exactly once — unless the client is freed first: then it never runs (no callback runs after
/// realtime_free), and whatever `user_data` holds is the application's to release after realtime_free.
pub type realtime_ack_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        error: *const c_char,
        args_json: *const c_char,
        buffers: *const realtime_buffer,
        buffer_count: usize,
    ),
>;

/// Takes `args_json` as written: NULL or empty means no arguments; otherwise a JSON array text (the
/// core validates it, at any depth, and sends it unchanged).
pub(super) fn parse_args(args_json: Option<&str>) -> String {
    match args_json.filter(|t| !t.trim().is_empty()) {
        Some(text) => text.to_owned(),
        None => "[]".to_owned(),
    }
}

/// Parses a required JSON value argument.
pub(super) fn parse_json(text: &str, name: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::InvalidArgument(format!("{name} is not valid JSON: {e}")))
}

/// Copies the application's buffers.
///
/// # Safety
/// `buffers` is NULL (with `count` 0) or points to `count` buffers whose `data` holds `len` bytes.
pub(super) unsafe fn copy_buffers(buffers: *const realtime_buffer, count: usize) -> Result<Vec<Vec<u8>>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if buffers.is_null() {
        return Err(Error::InvalidArgument("buffers is NULL but buffer_count > 0".to_owned()));
    }
    // SAFETY: non-NULL, and the caller promises `count` elements.
    let views = unsafe { std::slice::from_raw_parts(buffers, count) };
    views
        .iter()
        .enumerate()
        .map(|(i, view)| {
            if view.len == 0 {
                return Ok(Vec::new());
            }
            if view.data.is_null() {
                return Err(Error::InvalidArgument(format!("buffers[{i}].data is NULL")));
            }
            // SAFETY: the caller promises `len` readable bytes at `data`.
            Ok(unsafe { std::slice::from_raw_parts(view.data, view.len) }.to_vec())
        })
        .collect()
}

/// Borrowed views of received attachments, valid while `attachments` lives.
pub(super) fn views(attachments: &[Vec<u8>]) -> Vec<realtime_buffer> {
    attachments.iter().map(|a| realtime_buffer { data: a.as_ptr(), len: a.len() }).collect()
}

fn json_text(text: &str) -> CString {
    to_cstring(text)
}

thread_local! {
    /// The NUL-terminated name and arguments of the event being delivered on this thread: one
    /// buffer reused for every event, so a callback costs no allocation. Taken (not borrowed) for
    /// the call, so a nested delivery on the same thread gets a buffer of its own.
    static EVENT_TEXT: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Calls a realtime_event_fn with a server event. `buffers` is NULL when there are none.
fn call_event_fn(cb: EventFn, user_data: *mut c_void, event: &Event) {
    if let Event::Message(message) = event {
        let mut text = EVENT_TEXT.with(std::cell::Cell::take);
        text.clear();
        // A NUL inside the name (an escaped \u0000) ends the C string there, as to_cstring does.
        let name = message.name().as_bytes();
        text.extend_from_slice(&name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())]);
        text.push(0);
        let args_at = text.len();
        text.extend_from_slice(message.args().as_bytes());
        text.push(0);
        let buffers = views(&message.attachments);
        let buffers_ptr = if buffers.is_empty() { std::ptr::null() } else { buffers.as_ptr() };
        let base = text.as_ptr().cast::<c_char>();
        // SAFETY: the application registered `cb` with `user_data`; `text` holds both
        // NUL-terminated strings and, like `buffers`, outlives the call.
        unsafe {
            cb(user_data, base, base.add(args_at), buffers_ptr, buffers.len(), message.ack.unwrap_or(0));
        }
        if text.capacity() <= 64 * 1024 {
            EVENT_TEXT.with(|slot| slot.set(text));
        }
    }
}

/// The function type inside realtime_event_fn.
type EventFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const realtime_buffer, usize, u64);

/// realtime_on and realtime_once.
///
/// # Safety
/// `event` is NULL or a NUL-terminated string valid for the call.
unsafe fn on_named(
    client: *mut realtime_client,
    event: *const c_char,
    once: bool,
    cb: realtime_event_fn,
    user_data: *mut c_void,
    finalizer: realtime_finalizer_fn,
) -> u64 {
    // SAFETY: forwarded from the caller.
    let name = boundary(None, || unsafe { required_str(event, "event") }.map(|e| Some(e.to_owned())));
    let Some(name) = name else { return 0 };
    register_callback_with(client, EventKind::Named(name), once, cb, user_data, call_event_fn, finalizer)
}

/// Wraps a C ack callback for the core; it runs on the client's event queue.
pub(super) fn ack_callback(
    cb: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const realtime_buffer, usize),
    user_data: *mut c_void,
) -> AckCallback {
    ack_callback_with(cb, user_data, None)
}

/// Runs a finalizer when dropped: after the ack callback ran, or when it is dropped uncalled.
struct FinalizeOnDrop(Option<crate::dispatch::Finalizer>);

impl Drop for FinalizeOnDrop {
    fn drop(&mut self) {
        if let Some(finalizer) = self.0.take() {
            crate::dispatch::run_finalizer(finalizer);
        }
    }
}

/// [`ack_callback`] with a finalizer for `user_data`.
pub(super) fn ack_callback_with(
    cb: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const realtime_buffer, usize),
    user_data: *mut c_void,
    finalizer: realtime_finalizer_fn,
) -> AckCallback {
    let guard = FinalizeOnDrop(finalizer.map(|f| c_finalizer(f, user_data)));
    let user_data = UserData(user_data);
    Box::new(move |outcome: &AckOutcome| {
        let _guard = &guard;
        let user_data = user_data;
        match outcome {
            AckOutcome::Answered { args, attachments } => {
                let args = json_text(args);
                let buffers = views(attachments);
                let buffers_ptr = if buffers.is_empty() { std::ptr::null() } else { buffers.as_ptr() };
                // SAFETY: as in event_callback.
                unsafe { cb(user_data.0, std::ptr::null(), args.as_ptr(), buffers_ptr, buffers.len()) }
            }
            AckOutcome::Failed(error) => {
                let error = to_cstring(error);
                // SAFETY: as in event_callback.
                unsafe { cb(user_data.0, error.as_ptr(), std::ptr::null(), std::ptr::null(), 0) }
            }
        }
    })
}

/// Listens for server events named `event`: `cb` runs for each (see realtime_event_fn).
/// Returns a listener id (> 0) for realtime_off(), or 0 for a NULL/freed client, a NULL `event` or
/// a NULL `cb`. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_on(
    client: *mut realtime_client,
    event: *const c_char,
    cb: realtime_event_fn,
    user_data: *mut c_void,
) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { on_named(client, event, false, cb, user_data, None) }
}

/// Like realtime_on(), but the listener is removed before its first call: it runs at most once.
#[no_mangle]
pub unsafe extern "C" fn realtime_once(
    client: *mut realtime_client,
    event: *const c_char,
    cb: realtime_event_fn,
    user_data: *mut c_void,
) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { on_named(client, event, true, cb, user_data, None) }
}

/// realtime_on() with a finalizer: `finalizer(user_data)` runs exactly once, after the listener's
/// last possible callback — after realtime_off() or realtime_free() (once the running call, if
/// any, returned), on whatever thread that happens. NULL `finalizer` is allowed. If registration
/// fails (0 is returned) the finalizer is not called. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_on_with_free(
    client: *mut realtime_client,
    event: *const c_char,
    cb: realtime_event_fn,
    user_data: *mut c_void,
    finalizer: realtime_finalizer_fn,
) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { on_named(client, event, false, cb, user_data, finalizer) }
}

/// realtime_once() with a finalizer (see realtime_on_with_free()): it runs after the listener's
/// only call returned, or after realtime_off()/realtime_free() if it never ran.
#[no_mangle]
pub unsafe extern "C" fn realtime_once_with_free(
    client: *mut realtime_client,
    event: *const c_char,
    cb: realtime_event_fn,
    user_data: *mut c_void,
    finalizer: realtime_finalizer_fn,
) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { on_named(client, event, true, cb, user_data, finalizer) }
}

/// realtime_on_any() with a finalizer (see realtime_on_with_free()).
#[no_mangle]
pub extern "C" fn realtime_on_any_with_free(
    client: *mut realtime_client,
    cb: realtime_event_fn,
    user_data: *mut c_void,
    finalizer: realtime_finalizer_fn,
) -> u64 {
    register_callback_with(client, EventKind::Any, false, cb, user_data, call_event_fn, finalizer)
}

/// Listens for every server event, whatever its name (socket.io-client's onAny); catch-all listeners
/// run before the named ones. Returns a listener id (> 0), or 0 on bad input. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_any(client: *mut realtime_client, cb: realtime_event_fn, user_data: *mut c_void) -> u64 {
    register_callback_with(client, EventKind::Any, false, cb, user_data, call_event_fn, None)
}

/// Removes every catch-all listener, those of realtime_on_any() (realtime_off() removes one; user-event
/// listeners stay). Thread: any.
#[no_mangle]
pub extern "C" fn realtime_off_any(client: *mut realtime_client) -> realtime_status {
    boundary_status(|| {
        lookup(client)?.dispatcher.remove_any_listeners();
        Ok(())
    })
}

/// The emit behind every realtime_emit* export.
///
/// # Safety
/// The pointers follow the rules of realtime_emit_binary.
#[allow(clippy::too_many_arguments)]
unsafe fn emit(
    client: *mut realtime_client,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const realtime_buffer,
    buffer_count: usize,
    volatile: bool,
    timeout_ms: u32,
    ack: Option<AckCallback>,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: forwarded from the caller.
        let name = unsafe { required_str(event, "event") }?.to_owned();
        // SAFETY: forwarded from the caller.
        let args = parse_args(unsafe { optional_str(args_json, "args_json") }?);
        // SAFETY: forwarded from the caller.
        let attachments = unsafe { copy_buffers(buffers, buffer_count) }?;
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(u64::from(timeout_ms)));
        entry.socket.emit(EmitRequest { name, args, attachments, volatile, ack, timeout, tracked: None })
    })
}

/// Emits `event` with the arguments in `args_json` (a JSON array text, or NULL for none). The text is
/// validated (any nesting depth; lone surrogate escapes are valid, as in JavaScript) and sent exactly
/// as written, never re-serialised.
///
/// Connected: sent at once. Otherwise buffered (up to the maxBufferedEmits option) and sent in order
/// right after the next connect. Fails with REALTIME_STATUS_RESERVED_EVENT for a reserved name,
/// REALTIME_STATUS_BUFFER_FULL when the buffer is full, REALTIME_STATUS_PAYLOAD_TOO_LARGE when the
/// frame exceeds the server's maxPayload, REALTIME_STATUS_INVALID_ARGUMENT for bad JSON.
/// Both strings are borrowed for the call. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_emit(
    client: *mut realtime_client,
    event: *const c_char,
    args_json: *const c_char,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { emit(client, event, args_json, std::ptr::null(), 0, false, 0, None) }
}

/// Like realtime_emit(), but dropped (with REALTIME_STATUS_OK) when not connected, never buffered.
#[no_mangle]
pub unsafe extern "C" fn realtime_emit_volatile(
    client: *mut realtime_client,
    event: *const c_char,
    args_json: *const c_char,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { emit(client, event, args_json, std::ptr::null(), 0, true, 0, None) }
}

/// Like realtime_emit(), asking the server for an ack: `cb` runs exactly once, with the server's
/// answer, or with an error after `timeout_ms` (0: the ackTimeout option; without it, no timeout) or
/// when the connection drops after the packet was sent ("socket has been disconnected"; packets still
/// in the offline buffer keep their ack). NULL `cb` is bad input. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_emit_with_ack(
    client: *mut realtime_client,
    event: *const c_char,
    args_json: *const c_char,
    timeout_ms: u32,
    cb: realtime_ack_fn,
    user_data: *mut c_void,
) -> realtime_status {
    let Some(cb) = cb else {
        return super::fail(&Error::InvalidArgument("cb is NULL".to_owned()));
    };
    // SAFETY: forwarded from the caller.
    unsafe { emit(client, event, args_json, std::ptr::null(), 0, false, timeout_ms, Some(ack_callback(cb, user_data))) }
}

/// realtime_emit_with_ack() with a finalizer: `finalizer(user_data)` runs exactly once, after `cb`
/// ran, or when `cb` will never run (the client was freed first, or the emit failed: then before
/// this function returns). NULL `finalizer` is allowed. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_emit_with_ack_free(
    client: *mut realtime_client,
    event: *const c_char,
    args_json: *const c_char,
    timeout_ms: u32,
    cb: realtime_ack_fn,
    user_data: *mut c_void,
    finalizer: realtime_finalizer_fn,
) -> realtime_status {
    let Some(cb) = cb else {
        return super::fail(&Error::InvalidArgument("cb is NULL".to_owned()));
    };
    let ack = ack_callback_with(cb, user_data, finalizer);
    // SAFETY: forwarded from the caller.
    unsafe { emit(client, event, args_json, std::ptr::null(), 0, false, timeout_ms, Some(ack)) }
}

/// realtime_emit_binary() with a finalizer for `user_data`, as in realtime_emit_with_ack_free()
/// (with a NULL `cb`, the finalizer runs once the emit was queued or failed).
#[no_mangle]
pub unsafe extern "C" fn realtime_emit_binary_free(
    client: *mut realtime_client,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const realtime_buffer,
    buffer_count: usize,
    timeout_ms: u32,
    cb: realtime_ack_fn,
    user_data: *mut c_void,
    finalizer: realtime_finalizer_fn,
) -> realtime_status {
    let ack = cb.map(|cb| ack_callback_with(cb, user_data, finalizer));
    if cb.is_none() {
        if let Some(finalizer) = finalizer {
            // No callback will ever use user_data: finalize after the emit.
            // SAFETY: forwarded from the caller.
            let status = unsafe { emit(client, event, args_json, buffers, buffer_count, false, timeout_ms, None) };
            crate::dispatch::run_finalizer(c_finalizer(finalizer, user_data));
            return status;
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { emit(client, event, args_json, buffers, buffer_count, false, timeout_ms, ack) }
}

/// Emits with binary arguments, sent as binary frames (no base64): `args_json` refers to
/// `buffers[i]` with `{"_placeholder":true,"num":i}` at any position or depth, e.g.
/// `["photo", {"name": "a.png", "bytes": {"_placeholder":true,"num":0}}]`. At most 10 buffers; each
/// is copied before the call returns. `cb` may be NULL (no ack); otherwise it works as in
/// realtime_emit_with_ack(). Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_emit_binary(
    client: *mut realtime_client,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const realtime_buffer,
    buffer_count: usize,
    timeout_ms: u32,
    cb: realtime_ack_fn,
    user_data: *mut c_void,
) -> realtime_status {
    let ack = cb.map(|cb| ack_callback(cb, user_data));
    // SAFETY: forwarded from the caller.
    unsafe { emit(client, event, args_json, buffers, buffer_count, false, timeout_ms, ack) }
}

/// Answers the server's ack request `ack_id` (from a realtime_event_fn) with the arguments in
/// `args_json` (a JSON array text, or NULL for none). Exactly once: a second answer, or an answer
/// after the connection that asked is gone, fails with REALTIME_STATUS_UNKNOWN_ACK. Not answering is
/// allowed. May be called from inside the event callback or later, from any thread.
#[no_mangle]
pub unsafe extern "C" fn realtime_ack(
    client: *mut realtime_client,
    ack_id: u64,
    args_json: *const c_char,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { realtime_ack_binary(client, ack_id, args_json, std::ptr::null(), 0) }
}

/// realtime_ack() with binary arguments, as in realtime_emit_binary().
#[no_mangle]
pub unsafe extern "C" fn realtime_ack_binary(
    client: *mut realtime_client,
    ack_id: u64,
    args_json: *const c_char,
    buffers: *const realtime_buffer,
    buffer_count: usize,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: forwarded from the caller.
        let args = parse_args(unsafe { optional_str(args_json, "args_json") }?);
        // SAFETY: forwarded from the caller.
        let attachments = unsafe { copy_buffers(buffers, buffer_count) }?;
        entry.socket.answer_ack(ack_id, args, attachments)
    })
}

/// Opens namespace `nsp` (e.g. "/admin") on the same connection as `client`: one WebSocket, one
/// heartbeat and one reconnection schedule for both, but its own socket id, listeners, acks and
/// lifecycle events (socket.io-client's `manager.socket(nsp)`). `options_json` may hold socket options
/// only (auth, autoConnect, ackTimeout, retries, maxBufferedEmits, echoMessages, bufferMessages,
/// autoJoinChannels); connection options are the first client's. The new client is independent: free
/// each with realtime_free(); the connection lives while any of them does. Closing one leaves the others
/// connected. Returns NULL on bad input (REALTIME_STATUS_NAMESPACE_IN_USE when `nsp` is open on this
/// connection already). Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_new_namespace(
    client: *mut realtime_client,
    nsp: *const c_char,
    options_json: *const c_char,
) -> *mut realtime_client {
    boundary(std::ptr::null_mut(), || {
        let parent = lookup(client)?;
        // SAFETY: forwarded from the caller.
        let nsp = unsafe { required_str(nsp, "nsp") }?;
        // SAFETY: forwarded from the caller.
        let options = unsafe { optional_str(options_json, "options_json") }?;
        let dispatcher = Dispatcher::with_executor(parent.dispatcher.executor().clone());
        let socket = parent.socket.namespace(nsp, options, Arc::clone(&dispatcher) as Arc<dyn EventSink>)?;
        Ok(register(ClientEntry { socket, dispatcher }))
    })
}

/// Whether the current connection recovered the previous session (the server's connection state
/// recovery): true when the server replayed the events missed while disconnected and kept the
/// socket id and rooms. false when not connected, on a first connection, or for a NULL/freed client.
/// Thread: any.
#[no_mangle]
pub extern "C" fn realtime_is_recovered(client: *const realtime_client) -> bool {
    boundary(false, || Ok(lookup_released(client)?.socket.is_recovered()))
}

/// The status of a tracked emit (realtime_emit_tracked). The values never change.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum realtime_message_status {
    /// Waiting offline for the connection (again after a lost connection: it will be resent).
    Queued = 0,
    /// Handed to the connection.
    Sent = 1,
    /// Final: the server acknowledged it; `detail` is its answer, a JSON array text.
    Acked = 2,
    /// Final: its time to live passed before it could be sent; it never was.
    Expired = 3,
    /// Final: sent but not acknowledged within its time to live, or the socket was closed
    /// (realtime_close) after it was sent; `detail` says which.
    Failed = 4,
}

/// Receives the statuses of one tracked emit; `detail` is `""` unless the status says otherwise
/// (borrowed for the call). Runs on a callback thread (or in realtime_poll), in order with the
/// client's other callbacks.
pub type realtime_message_status_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, status: realtime_message_status, detail: *const c_char)>;

/// An emit whose fate is reported — a capability socket.io-client does not have. The server must
/// acknowledge the event (its handler calls the ack function); `cb(user_data, status, detail)` then
/// reports `QUEUED` (offline) or `SENT`, possibly again (`QUEUED` → `SENT` after a reconnect: a sent
/// message not yet acknowledged when the connection drops goes back to the offline buffer and is sent
/// again, so delivery is at least once), and exactly one final status: `ACKED`, `EXPIRED` (not sent
/// within `ttl_ms`: it never will be) or `FAILED` (sent, not acknowledged within `ttl_ms`; or the
/// application closed the socket after it was sent). `ttl_ms` 0: no time to live (it waits for the
/// connection and the ack as long as the client lives). After the final status `cb` is not called
/// again, so `user_data` may be freed in it; realtime_free ends everything without a final status.
/// Counts in maxBufferedEmits while offline. Synchronous failures (the same as realtime_emit's, and NULL
/// `cb`) call nothing. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_emit_tracked(
    client: *mut realtime_client,
    event: *const c_char,
    args_json: *const c_char,
    ttl_ms: u32,
    cb: realtime_message_status_fn,
    user_data: *mut c_void,
) -> realtime_status {
    boundary_status(|| {
        let Some(cb) = cb else {
            return Err(Error::InvalidArgument("cb is NULL".to_owned()));
        };
        let entry = lookup_released(client)?;
        // SAFETY: forwarded from the caller.
        let name = unsafe { required_str(event, "event") }?.to_owned();
        // SAFETY: forwarded from the caller.
        let args = parse_args(unsafe { optional_str(args_json, "args_json") }?);
        let ttl = (ttl_ms > 0).then(|| Duration::from_millis(u64::from(ttl_ms)));
        let user_data = UserData(user_data);
        let sink: crate::client::StatusSink = Arc::new(move |status: MessageStatus, detail: &str| {
            let status = match status {
                MessageStatus::Queued => realtime_message_status::Queued,
                MessageStatus::Sent => realtime_message_status::Sent,
                MessageStatus::Acked => realtime_message_status::Acked,
                MessageStatus::Expired => realtime_message_status::Expired,
                MessageStatus::Failed => realtime_message_status::Failed,
            };
            let detail = to_cstring(detail);
            let user_data = &user_data;
            // SAFETY: the application's callback with its own pointer; `detail` lives for the call.
            unsafe { cb(user_data.0, status, detail.as_ptr()) }
        });
        entry.socket.emit(EmitRequest {
            name,
            args,
            attachments: Vec::new(),
            volatile: false,
            ack: None,
            timeout: ttl,
            tracked: Some(sink),
        })
    })
}
