//! Which transport a client's connection uses now.

use super::boundary;
use super::client::lookup_released;
use super::client::realtime_client;
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
