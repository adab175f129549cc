//! Which transport a client's connection uses now, and its live counters.

use super::boundary;
use super::client::realtime_client;
use super::client::{lookup, lookup_released};
use crate::error::Error;
use std::ffi::c_char;

/// The transport of the client's open connection: `"websocket"` or `"polling"` (engine.io's names),
/// or `""` when no connection is open (connecting, waiting to reconnect, closed) and for a NULL or
/// freed client. A polling connection that upgraded reports `"websocket"` from the moment the
/// upgrade completed. Static storage: never NULL, never freed. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_transport_name(client: *const realtime_client) -> *const c_char {
    let name = boundary(None, || Ok(lookup_released(client)?.socket.transport_name()));
    match name {
        Some("websocket") => c"websocket".as_ptr(),
        Some("polling") => c"polling".as_ptr(),
        _ => c"".as_ptr(),
    }
}

/// A snapshot of the client's live counters as one JSON object (version 1; new members may be added,
/// none removed), cheap enough for every frame of a UI (atomics and three short locks, no I/O):
///
/// `version`, `state` (`"idle"`, `"connecting"`, `"connected"`, `"waiting"` — for the backoff delay),
/// `connected` (this namespace), `namespace`, `msInState`, `msInEachState` (an object by state, the
/// current stretch included), `connects`, `reconnects`, `failedAttempts`, `lastDisconnectReason`
/// (socket.io-client's reason, or null), `transport` (or null), `url` (`scheme://host:port` of the server in
/// use or tried next, see `failoverUrls`; `http`/`https` on polling), `packetsIn`, `framesIn`, `bytesIn`,
/// `packetsOut`, `bytesOut` (the connection, every namespace on it; bytes are WebSocket payload bytes),
/// `emits`, `emitsBuffered` (waiting offline or in the retry queue), `bytesQueuedForSocket` (sent, not yet
/// taken by the OS), `eventsWaitingForCallbacks`, `bytesWaitingForCallbacks`, `pendingAcks`,
/// `acksAnswered`, `lastAckRoundTripUs` (the latest emit-with-ack round trip, or null),
/// `lastPingRoundTripUs` (always null with Engine.IO 4, where the server pings), `listeners`.
///
/// Copies the text and a NUL into `buf` when it fits in `buf_len` bytes, else writes `""` (never a
/// truncated object). Returns the text's length without the NUL (a return ≥ buf_len: call again with at
/// least return + 1 bytes), or 0 for a NULL or freed client or a NULL `buf` with `buf_len > 0`.
/// `buf` may be NULL when `buf_len` is 0, to ask the length. Does not release the initial event hold.
/// Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_stats_json(
    client: *const realtime_client,
    buf: *mut c_char,
    buf_len: usize,
) -> usize {
    boundary(0, || {
        let entry = lookup(client)?;
        if buf.is_null() && buf_len > 0 {
            return Err(Error::InvalidArgument("buf is NULL".to_owned()));
        }
        let mut stats = entry.socket.stats();
        stats.insert("listeners".to_owned(), entry.dispatcher.listener_count().into());
        let text = serde_json::Value::Object(stats).to_string();
        if buf_len > 0 {
            let fits = text.len() < buf_len;
            let copied = if fits { text.len() } else { 0 };
            // SAFETY: `buf` is non-NULL and the caller promises `buf_len` writable bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, copied);
                *buf.add(copied) = 0;
            }
        }
        Ok(text.len())
    })
}
