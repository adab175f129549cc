//! Agnost channels: broadcast, send to a channel, join, leave, update the profile, get members, and
//! listeners for membership changes and channel messages.

use super::client::{lookup_released, realtime_client, register_callback, UserData};
use super::events::parse_json;
use super::{boundary, boundary_status, optional_str, required_str, to_cstring};
use crate::client::channels::{parse_envelope, ChannelEventKind};
use crate::client::{AckOutcome, Event};
use crate::dispatch::EventKind;
use crate::error::Error;
use crate::ffi::realtime_status;
use std::ffi::{c_char, c_void};

/// A channel event: `channel` (NULL for a broadcast message), `member_id` (the socket id of the member
/// who joined, left, updated or sent; NULL if the server did not say) and `data_json` (the profile or
/// the message, as JSON text). Borrowed for the call.
pub type realtime_channel_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        channel: *const c_char,
        member_id: *const c_char,
        data_json: *const c_char,
    ),
>;

/// The members of a channel: on success `error` is NULL and `members_json` is the server's answer
/// (a JSON array of `{"id":…, "data":…}`); on failure `error` says why and `members_json` is NULL.
pub type realtime_members_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, error: *const c_char, members_json: *const c_char)>;

/// Calls a realtime_channel_fn with a channel event or message (events of another shape are skipped).
fn call_channel_fn(cb: ChannelFn, user_data: *mut c_void, event: &Event) {
    let Event::Message(message) = event else { return };
    let Some(envelope) = parse_envelope(message) else {
        return;
    };
    let channel = envelope.channel.as_deref().map(to_cstring);
    let member = envelope.member_id.as_deref().map(to_cstring);
    let data = to_cstring(&envelope.data.to_string());
    let ptr = |s: &Option<std::ffi::CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: the application registered `cb` with `user_data`; the strings outlive the call.
    unsafe { cb(user_data, ptr(&channel), ptr(&member), data.as_ptr()) }
}

/// The function type inside realtime_channel_fn.
type ChannelFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char);

fn on_channel_event(
    client: *mut realtime_client,
    kind: ChannelEventKind,
    cb: realtime_channel_fn,
    user_data: *mut c_void,
) -> u64 {
    let kind = EventKind::Named(kind.event_name().to_owned());
    register_callback(client, kind, false, cb, user_data, call_channel_fn)
}

/// Sends `message_json` (any JSON value) as `event_name` to every connected client.
/// Buffered while offline unless the bufferMessages option is false. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_broadcast(
    client: *mut realtime_client,
    event_name: *const c_char,
    message_json: *const c_char,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { realtime_send(client, std::ptr::null(), event_name, message_json) }
}

/// Sends `message_json` (any JSON value) as `event_name` to the members of `channel` (NULL: to every
/// client, like realtime_broadcast()). Receivers get it through realtime_on_message(). Buffered while
/// offline unless the bufferMessages option is false. Strings are borrowed for the call. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_send(
    client: *mut realtime_client,
    channel: *const c_char,
    event_name: *const c_char,
    message_json: *const c_char,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: the caller passes NULL or NUL-terminated strings valid for the call.
        let channel = unsafe { optional_str(channel, "channel") }?;
        // SAFETY: as above.
        let event_name = unsafe { required_str(event_name, "event_name") }?;
        // SAFETY: as above.
        let message = unsafe { optional_str(message_json, "message_json") }?.unwrap_or("null");
        entry.socket.send_message(channel, event_name, message)
    })
}

/// Joins `channel`. With the autoJoinChannels option (the default) the membership is remembered and
/// sent again after every reconnect (not buffered while offline: the reconnect sends it).
/// Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_join(client: *mut realtime_client, channel: *const c_char) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: as in realtime_send.
        entry.socket.join(unsafe { required_str(channel, "channel") }?)
    })
}

/// Leaves `channel`. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_leave(client: *mut realtime_client, channel: *const c_char) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: as in realtime_send.
        entry.socket.leave(unsafe { required_str(channel, "channel") }?)
    })
}

/// Sets this member's profile to `data_json` (any JSON value); other members of its channels get
/// channel_update. With autoJoinChannels the last profile is sent again after every reconnect.
/// Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_update_profile(
    client: *mut realtime_client,
    data_json: *const c_char,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: as in realtime_send.
        let data = parse_json(unsafe { required_str(data_json, "data_json") }?, "data_json")?;
        entry.socket.update_profile(data)
    })
}

/// Asks for the members of `channel`; `cb` runs once with the answer or an error (the ackTimeout
/// option applies), or never if the client is freed first. NULL `cb` is bad input. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_get_members(
    client: *mut realtime_client,
    channel: *const c_char,
    cb: realtime_members_fn,
    user_data: *mut c_void,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: as in realtime_send.
        let channel = unsafe { required_str(channel, "channel") }?;
        let cb = cb.ok_or_else(|| Error::InvalidArgument("cb is NULL".to_owned()))?;
        let user_data = UserData(user_data);
        entry.socket.members(
            channel,
            Box::new(move |outcome: &AckOutcome| {
                let user_data = user_data;
                match outcome {
                    AckOutcome::Answered { args, .. } => {
                        let first = crate::protocol::json::split_first_element(args).map(|(first, _)| first);
                        let members = to_cstring(first.unwrap_or("[]"));
                        // SAFETY: the application passed `cb` with `user_data`; the string outlives the call.
                        unsafe { cb(user_data.0, std::ptr::null(), members.as_ptr()) }
                    }
                    AckOutcome::Failed(error) => {
                        let error = to_cstring(error);
                        // SAFETY: as above.
                        unsafe { cb(user_data.0, error.as_ptr(), std::ptr::null()) }
                    }
                }
            }),
        )
    })
}

/// Listens for members joining any of this client's channels (`channel:join`).
/// Returns a listener id (> 0), or 0 on bad input. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_channel_join(
    client: *mut realtime_client,
    cb: realtime_channel_fn,
    user_data: *mut c_void,
) -> u64 {
    on_channel_event(client, ChannelEventKind::Join, cb, user_data)
}

/// Listens for members leaving (`channel:leave`). Returns a listener id (> 0), or 0 on bad input.
#[no_mangle]
pub extern "C" fn realtime_on_channel_leave(
    client: *mut realtime_client,
    cb: realtime_channel_fn,
    user_data: *mut c_void,
) -> u64 {
    on_channel_event(client, ChannelEventKind::Leave, cb, user_data)
}

/// Listens for profile updates of members (`channel:update`). Returns a listener id (> 0), or 0 on
/// bad input.
#[no_mangle]
pub extern "C" fn realtime_on_channel_update(
    client: *mut realtime_client,
    cb: realtime_channel_fn,
    user_data: *mut c_void,
) -> u64 {
    on_channel_event(client, ChannelEventKind::Update, cb, user_data)
}

/// Listens for channel messages and broadcasts sent as `event_name` (realtime_send(),
/// realtime_broadcast()): `cb` gets the channel (NULL for a broadcast), the sender's socket id and the
/// message. Returns a listener id (> 0), or 0 on bad input. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_on_message(
    client: *mut realtime_client,
    event_name: *const c_char,
    cb: realtime_channel_fn,
    user_data: *mut c_void,
) -> u64 {
    // SAFETY: as in realtime_send.
    let name = boundary(None, || unsafe { required_str(event_name, "event_name") }.map(|e| Some(e.to_owned())));
    let Some(name) = name else { return 0 };
    register_callback(client, EventKind::Named(name), false, cb, user_data, call_channel_fn)
}
