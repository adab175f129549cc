//! Agnost channels: broadcast, send to a channel, join, leave, update the profile, get members (over
//! HTTP from Agnost's API server), listeners for membership changes, channel messages (whole, with
//! their buffers) and user events; the per-call `echo` override.

use super::client::{lookup_released, realtime_client, register_callback, UserData};
use super::events::{copy_buffers, parse_json, realtime_buffer, views};
use super::{boundary, boundary_status, optional_str, required_str, to_cstring};
use crate::client::channels::{
    message_parts, parse_member_envelope, user_event_parts, ChannelEventKind, MembersOutcome, USER_EVENTS,
};
use crate::client::Event;
use crate::dispatch::EventKind;
use crate::error::Error;
use crate::ffi::realtime_status;
use std::ffi::{c_char, c_void};

/// A channel event: `channel` (NULL for a broadcast message), `member_id` and `data_json`.
/// For channel_join/leave/update: the member's socket id and profile (JSON text; `null` for none).
/// For realtime_on_message(): `member_id` is always NULL (Agnost's messages carry no sender id) and
/// `data_json` is the message exactly as the sender passed it (binary parts stay placeholders; use
/// realtime_on_message_binary() for their bytes). Borrowed for the call.
pub type realtime_channel_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        channel: *const c_char,
        member_id: *const c_char,
        data_json: *const c_char,
    ),
>;

/// The members of a channel: on success `error` is NULL and `members_json` is the API server's answer
/// (a JSON array of `{"id":…, "data":…}`); on failure `error` says why (for an HTTP error: the URL,
/// `HTTP <status>` and the response body, e.g. Agnost's `{"errors":…}`) and `members_json` is NULL.
pub type realtime_members_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, error: *const c_char, members_json: *const c_char)>;

/// A channel message or broadcast, with its binary parts: `event` is its event name, `channel` NULL
/// for a broadcast, `message_json` the message exactly as the sender passed it, where each binary part
/// is `{"_placeholder":true,"num":i}` and its bytes are `buffers[i]` (`buffer_count` of them).
/// Borrowed for the call.
pub type realtime_channel_message_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        event: *const c_char,
        channel: *const c_char,
        message_json: *const c_char,
        buffers: *const realtime_buffer,
        buffer_count: usize,
    ),
>;

/// An Agnost user event: `event` is one of `user:signin`, `user:signout`, `user:update`,
/// `user:delete`, `user:pwdchange`, `user:emailchange`, `user:phonechange`; `session_json` and
/// `user_json` are the session and the user as the server sent them (JSON text, `null` when absent).
/// Borrowed for the call.
pub type realtime_user_event_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        event: *const c_char,
        session_json: *const c_char,
        user_json: *const c_char,
    ),
>;

/// The per-call echo override of the `_ex` functions (Agnost's `echo` on join, leave, update, send
/// and broadcast): whether the sender itself gets the event. The values never change.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum realtime_echo {
    /// The socket's default: the echoMessages option (`echo` is not sent).
    Default = 0,
    /// `"echo": true`: the sender gets it too.
    On = 1,
    /// `"echo": false`: the sender does not get it.
    Off = 2,
}

/// The echo override as an integer, as functions take it from C (any int value is safe there).
pub type EchoCode = i32;

const REALTIME_ECHO_DEFAULT: EchoCode = realtime_echo::Default as EchoCode;

fn echo_arg(echo: EchoCode) -> Result<Option<bool>, Error> {
    match echo {
        0 => Ok(None),
        1 => Ok(Some(true)),
        2 => Ok(Some(false)),
        other => Err(Error::InvalidArgument(format!(
            "echo {other}: REALTIME_ECHO_DEFAULT (0), REALTIME_ECHO_ON (1) or REALTIME_ECHO_OFF (2)"
        ))),
    }
}

fn ptr(s: &Option<std::ffi::CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Calls a realtime_channel_fn with a member event (`channel:join/leave/update`).
fn call_member_fn(cb: ChannelFn, user_data: *mut c_void, event: &Event) {
    let Event::Message(message) = event else { return };
    let Some(envelope) = parse_member_envelope(message) else {
        return;
    };
    let channel = envelope.channel.as_deref().map(to_cstring);
    let member = envelope.member_id.as_deref().map(to_cstring);
    let data = to_cstring(&envelope.data.to_string());
    // SAFETY: the application registered `cb` with `user_data`; the strings outlive the call.
    unsafe { cb(user_data, ptr(&channel), ptr(&member), data.as_ptr()) }
}

/// Calls a realtime_channel_fn with a channel message: no member id, the message whole.
fn call_message_fn(cb: ChannelFn, user_data: *mut c_void, event: &Event) {
    let Event::Message(message) = event else { return };
    let Some((channel, text)) = message_parts(message) else {
        return;
    };
    let channel = channel.as_deref().map(to_cstring);
    let text = to_cstring(&text);
    // SAFETY: as in call_member_fn.
    unsafe { cb(user_data, ptr(&channel), std::ptr::null(), text.as_ptr()) }
}

/// Calls a realtime_channel_message_fn with a channel message and its buffers.
fn call_message_binary_fn(cb: ChannelMessageFn, user_data: *mut c_void, event: &Event) {
    let Event::Message(message) = event else { return };
    let Some((channel, text)) = message_parts(message) else {
        return;
    };
    let name = to_cstring(message.name());
    let channel = channel.as_deref().map(to_cstring);
    let text = to_cstring(&text);
    let buffers = views(&message.attachments);
    // SAFETY: as in call_member_fn; the buffers borrow the event, which outlives the call.
    unsafe { cb(user_data, name.as_ptr(), ptr(&channel), text.as_ptr(), buffers.as_ptr(), buffers.len()) }
}

/// Calls a realtime_user_event_fn for Agnost's user events (every other event is skipped).
fn call_user_event_fn(cb: UserEventFn, user_data: *mut c_void, event: &Event) {
    let Event::Message(message) = event else { return };
    if !USER_EVENTS.contains(&message.name()) {
        return;
    }
    let (name, session, user) = user_event_parts(message);
    let (name, session, user) = (to_cstring(&name), to_cstring(&session), to_cstring(&user));
    // SAFETY: as in call_member_fn.
    unsafe { cb(user_data, name.as_ptr(), session.as_ptr(), user.as_ptr()) }
}

/// The function types inside the callback options.
type ChannelFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char);
type ChannelMessageFn =
    unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char, *const realtime_buffer, usize);
type UserEventFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *const c_char);

fn on_channel_event(
    client: *mut realtime_client,
    kind: ChannelEventKind,
    cb: realtime_channel_fn,
    user_data: *mut c_void,
) -> u64 {
    let kind = EventKind::Named(kind.event_name().to_owned());
    register_callback(client, kind, false, cb, user_data, call_member_fn)
}

/// Sends `message_json` (any JSON value) as `event_name` to every client of the environment (the
/// receivers get `channel` NULL). Buffered while offline unless the bufferMessages option is false.
/// Same as realtime_broadcast_ex() with REALTIME_ECHO_DEFAULT. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_broadcast(
    client: *mut realtime_client,
    event_name: *const c_char,
    message_json: *const c_char,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        realtime_send_binary(
            client,
            std::ptr::null(),
            event_name,
            message_json,
            std::ptr::null(),
            0,
            REALTIME_ECHO_DEFAULT,
        )
    }
}

/// realtime_broadcast() with a per-call `echo` (REALTIME_ECHO_DEFAULT, _ON or _OFF: whether this
/// client gets its own broadcast; the default is the echoMessages option). Another value is bad input.
#[no_mangle]
pub unsafe extern "C" fn realtime_broadcast_ex(
    client: *mut realtime_client,
    event_name: *const c_char,
    message_json: *const c_char,
    echo: EchoCode,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { realtime_send_binary(client, std::ptr::null(), event_name, message_json, std::ptr::null(), 0, echo) }
}

/// Sends `message_json` (any JSON value; NULL: `null`) as `event_name` to the members of `channel`
/// (NULL: to every client, like realtime_broadcast()). Receivers get it, exactly as given, through
/// realtime_on_message(). Buffered while offline unless the bufferMessages option is false. Strings
/// are borrowed for the call. Same as realtime_send_ex() with REALTIME_ECHO_DEFAULT. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_send(
    client: *mut realtime_client,
    channel: *const c_char,
    event_name: *const c_char,
    message_json: *const c_char,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        realtime_send_binary(client, channel, event_name, message_json, std::ptr::null(), 0, REALTIME_ECHO_DEFAULT)
    }
}

/// realtime_send() with a per-call `echo` (see realtime_broadcast_ex()).
#[no_mangle]
pub unsafe extern "C" fn realtime_send_ex(
    client: *mut realtime_client,
    channel: *const c_char,
    event_name: *const c_char,
    message_json: *const c_char,
    echo: EchoCode,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { realtime_send_binary(client, channel, event_name, message_json, std::ptr::null(), 0, echo) }
}

/// realtime_send_ex() with binary parts: `message_json` refers to `buffers[i]` with
/// `{"_placeholder":true,"num":i}` at any depth, e.g. `{"name":"a.png","bytes":{"_placeholder":true,"num":0}}`;
/// the receivers get the buffers (realtime_on_message_binary()). At most 10 buffers, copied before
/// the call returns. `channel` NULL: a broadcast. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_send_binary(
    client: *mut realtime_client,
    channel: *const c_char,
    event_name: *const c_char,
    message_json: *const c_char,
    buffers: *const realtime_buffer,
    buffer_count: usize,
    echo: EchoCode,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: the caller passes NULL or NUL-terminated strings valid for the call.
        let channel = unsafe { optional_str(channel, "channel") }?;
        // SAFETY: as above.
        let event_name = unsafe { required_str(event_name, "event_name") }?;
        // SAFETY: as above.
        let message = unsafe { optional_str(message_json, "message_json") }?.unwrap_or("null");
        // SAFETY: the caller passes `buffer_count` valid buffers (or NULL with 0).
        let attachments = unsafe { copy_buffers(buffers, buffer_count) }?;
        entry.socket.send_message(channel, event_name, message, attachments, echo_arg(echo)?)
    })
}

/// Joins `channel`. With the autoJoinChannels option (the default) the membership is remembered and
/// sent again after every reconnect, after the profile (not buffered while offline: the connect
/// sends it). Same as realtime_join_ex() with REALTIME_ECHO_DEFAULT. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_join(client: *mut realtime_client, channel: *const c_char) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { realtime_join_ex(client, channel, REALTIME_ECHO_DEFAULT) }
}

/// realtime_join() with a per-call `echo`: whether this client gets its own channel:join (kept for
/// the re-joins). Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_join_ex(
    client: *mut realtime_client,
    channel: *const c_char,
    echo: EchoCode,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: as in realtime_send_binary.
        entry.socket.join(unsafe { required_str(channel, "channel") }?, echo_arg(echo)?)
    })
}

/// Leaves `channel`. Same as realtime_leave_ex() with REALTIME_ECHO_DEFAULT. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_leave(client: *mut realtime_client, channel: *const c_char) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { realtime_leave_ex(client, channel, REALTIME_ECHO_DEFAULT) }
}

/// realtime_leave() with a per-call `echo`: whether this client gets its own channel:leave. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_leave_ex(
    client: *mut realtime_client,
    channel: *const c_char,
    echo: EchoCode,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: as in realtime_send_binary.
        entry.socket.leave(unsafe { required_str(channel, "channel") }?, echo_arg(echo)?)
    })
}

/// Sets this member's profile to `data_json` (any JSON value); other members of its channels get
/// channel_update. With autoJoinChannels the last profile is sent again on every connect, before the
/// joins (so a join right after realtime_new() already carries it). Same as
/// realtime_update_profile_ex() with REALTIME_ECHO_DEFAULT. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_update_profile(
    client: *mut realtime_client,
    data_json: *const c_char,
) -> realtime_status {
    // SAFETY: forwarded from the caller.
    unsafe { realtime_update_profile_ex(client, data_json, REALTIME_ECHO_DEFAULT) }
}

/// realtime_update_profile() with a per-call `echo`: whether this client gets its own channel:update.
/// Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_update_profile_ex(
    client: *mut realtime_client,
    data_json: *const c_char,
    echo: EchoCode,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: as in realtime_send_binary.
        let data = parse_json(unsafe { required_str(data_json, "data_json") }?, "data_json")?;
        entry.socket.update_profile(data, echo_arg(echo)?)
    })
}

/// Asks for the members of `channel`. With the apiBaseUrl option, as Agnost's client does: from
/// Agnost's API server, `POST {apiBaseUrl}/agnost/realtime/get-members` with `{"channel":…}`,
/// `Authorization: <apiKey>` and `Session: <session>` (the apiKey and session options, else
/// auth.apiKey / auth.session); errors: HTTP status and body, unreachable server, no answer within
/// ackTimeout (else the timeout option). Without apiBaseUrl: the realtime service's `members` socket
/// event with an ack (ackTimeout applies). `cb` runs once with the answer or an error, or never if
/// the client is freed first. NULL `cb` is bad input. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_get_members(
    client: *mut realtime_client,
    channel: *const c_char,
    cb: realtime_members_fn,
    user_data: *mut c_void,
) -> realtime_status {
    boundary_status(|| {
        let entry = lookup_released(client)?;
        // SAFETY: as in realtime_send_binary.
        let channel = unsafe { required_str(channel, "channel") }?;
        let cb = cb.ok_or_else(|| Error::InvalidArgument("cb is NULL".to_owned()))?;
        let user_data = UserData(user_data);
        entry.socket.members(
            channel,
            Box::new(move |outcome: MembersOutcome| {
                let user_data = user_data;
                match outcome {
                    Ok(members) => {
                        let members = to_cstring(&members);
                        // SAFETY: the application passed `cb` with `user_data`; the string outlives the call.
                        unsafe { cb(user_data.0, std::ptr::null(), members.as_ptr()) }
                    }
                    Err(error) => {
                        let error = to_cstring(&error);
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
/// realtime_broadcast(), Agnost's API server): `cb` gets the channel (NULL for a broadcast), a NULL
/// member id (messages carry no sender) and the message exactly as the sender passed it. Events of
/// another shape (e.g. user events) are not passed to it. Returns a listener id (> 0), or 0 on bad
/// input. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_on_message(
    client: *mut realtime_client,
    event_name: *const c_char,
    cb: realtime_channel_fn,
    user_data: *mut c_void,
) -> u64 {
    // SAFETY: as in realtime_send_binary.
    let name = boundary(None, || unsafe { required_str(event_name, "event_name") }.map(|e| Some(e.to_owned())));
    let Some(name) = name else { return 0 };
    register_callback(client, EventKind::Named(name), false, cb, user_data, call_message_fn)
}

/// Like realtime_on_message(), with the event name and the message's binary parts (see
/// realtime_channel_message_fn). Returns a listener id (> 0), or 0 on bad input. Thread: any.
#[no_mangle]
pub unsafe extern "C" fn realtime_on_message_binary(
    client: *mut realtime_client,
    event_name: *const c_char,
    cb: realtime_channel_message_fn,
    user_data: *mut c_void,
) -> u64 {
    // SAFETY: as in realtime_send_binary.
    let name = boundary(None, || unsafe { required_str(event_name, "event_name") }.map(|e| Some(e.to_owned())));
    let Some(name) = name else { return 0 };
    register_callback(client, EventKind::Named(name), false, cb, user_data, call_message_binary_fn)
}

/// Listens for Agnost's user events (`user:signin`, `user:signout`, `user:update`, `user:delete`,
/// `user:pwdchange`, `user:emailchange`, `user:phonechange`, pushed to the sockets of the session's
/// user): one listener for all of them, like Agnost's `onUserEvent`. It runs before the named listeners
/// of the same event (as catch-all ones do), and realtime_off_any() leaves it in place. Returns a
/// listener id (> 0) for realtime_off(), or 0 on bad input. Thread: any.
#[no_mangle]
pub extern "C" fn realtime_on_user_event(
    client: *mut realtime_client,
    cb: realtime_user_event_fn,
    user_data: *mut c_void,
) -> u64 {
    register_callback(client, EventKind::UserEvents, false, cb, user_data, call_user_event_fn)
}
