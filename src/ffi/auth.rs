//! The auth provider: fresh credentials before every namespace CONNECT (socket.io-client's `auth`
//! given as a function), answered at once or later from any thread.

use super::client::{lookup, lookup_released, realtime_client, UserData};
use super::{boundary_status, optional_str, realtime_status};
use crate::client::AuthProvider;
use crate::error::Error;
use serde_json::Value;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// Asked for credentials: answer with realtime_auth_reply(client, request_id, ...), inside the
/// callback or later from any thread.
pub type realtime_auth_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, request_id: u64)>;

/// Sets the client's auth provider: before each CONNECT of its namespace (the first connection,
/// every reconnection, every realtime_open() after a refusal), the library calls
/// `cb(user_data, request_id)` on its callback thread (in order with the client's other callbacks,
/// never on an IO thread) and sends the CONNECT only when the application answers with
/// realtime_auth_reply(). The answer replaces the `auth` option for that CONNECT and later ones.
///
/// - No answer within the `authTimeout` option (default 10000 ms): on_error gets "the auth provider
///   did not answer within N ms" and the client stops, as after a server refusal, until
///   realtime_open(). A declined request (realtime_auth_reply with NULL) ends the same way.
/// - Set it right after realtime_new() (or create the client with `"autoConnect": false` and call
///   realtime_open() after this): it applies to CONNECTs sent after it took effect.
/// - A NULL `cb` removes the provider (the last answer stays the `auth` in use).
/// - Expired tokens: when the server refuses the CONNECT (on_error with the server's message and
///   data, e.g. `{"message":"token expired"}`), call realtime_open(): the provider is asked again,
///   and can refresh the token first.
///
/// `user_data` is passed back untouched; it must stay valid until the provider is replaced or
/// removed and, at the latest, until realtime_free() returns. Returns REALTIME_STATUS_OK, or an
/// error status for a NULL or freed client. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_set_auth_provider(
    client: *mut realtime_client,
    cb: realtime_auth_fn,
    user_data: *mut c_void,
) -> realtime_status {
    boundary_status(|| {
        // Like a listener registration, this does not end the initial event hold.
        let entry = lookup(client)?;
        let user_data = UserData(user_data);
        let provider = cb.map(|cb| -> AuthProvider {
            Arc::new(move |request| {
                let user_data = user_data;
                // SAFETY: the application registered `cb` with this `user_data`; it runs on the
                // callback thread, as documented.
                unsafe { cb(user_data.0, request) }
            })
        });
        entry.socket.set_auth_provider(provider)
    })
}

/// Answers auth request `request_id` (from the provider set with realtime_set_auth_provider()):
/// `auth_json` is a JSON object, sent as the CONNECT's auth (e.g. `{"token":"abc"}`), or NULL to
/// decline (the client stops with an on_error, as after a refusal). May be called inside the
/// provider's callback or later from any thread. An answer to a request that is no longer waiting
/// (timed out, or its connection has gone) is ignored and returns REALTIME_STATUS_OK.
///
/// Returns REALTIME_STATUS_INVALID_ARGUMENT when `auth_json` is not a JSON object (the request stays
/// open: answer it again), or an error status for a NULL or freed client. `auth_json` is borrowed for
/// the call. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_auth_reply(
    client: *mut realtime_client,
    request_id: u64,
    auth_json: *const c_char,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: the caller passes NULL or a NUL-terminated string valid for the call.
        let auth = match unsafe { optional_str(auth_json, "auth_json") }? {
            None => None,
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Some(map),
                _ => return Err(Error::InvalidArgument("auth_json must be a JSON object".to_owned())),
            },
        };
        entry.socket.auth_reply(request_id, auth)
    })
}
