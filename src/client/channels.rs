//! Agnost's realtime channels, as events over the socket (the real Agnost realtime service's
//! vocabulary; see `/work/shared/AGNOST.md`).
//!
//! Client → server (one object each): `join` `{channel, echo?}`, `leave` `{channel, echo?}`, `update`
//! `{data, echo?}`, `message` `{channel?, eventName, message, echo?}`. The connection's `auth` carries
//! `echoMessages` (the socket's echo default); `echo` overrides it for one call. Server → client:
//! `channel:join`, `channel:leave` and `channel:update` with the member envelope
//! `{channel, message: {id, data}}` (the member's socket id and profile); a message arrives as its
//! `eventName` with `{channel, message}`, `message` exactly what the sender passed (`channel` null for a
//! broadcast) — there is no sender id. User events (`user:signin`, …) carry `(eventName, session, user)`.
//! Members are asked over HTTP (`crate::transport::http`), not over the socket.

use super::event::IncomingEvent;
use crate::protocol::json;
use serde_json::{json, Map, Value};

pub const JOIN: &str = "join";
pub const LEAVE: &str = "leave";
pub const UPDATE: &str = "update";
pub const MESSAGE: &str = "message";
pub const MEMBERS: &str = "members";

/// The user events Agnost's API server pushes to a user's sockets (`onUserEvent`).
pub const USER_EVENTS: &[&str] = &[
    "user:signin",
    "user:signout",
    "user:update",
    "user:delete",
    "user:pwdchange",
    "user:emailchange",
    "user:phonechange",
];

/// The JSON array text of one payload object, with `echo` when given.
fn with_echo(mut payload: Map<String, Value>, echo: Option<bool>) -> String {
    if let Some(echo) = echo {
        payload.insert("echo".to_owned(), Value::Bool(echo));
    }
    Value::Array(vec![Value::Object(payload)]).to_string()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("built as an object"),
    }
}

pub fn join_packet(channel: &str, echo: Option<bool>) -> (String, String) {
    (JOIN.to_owned(), with_echo(object(json!({ "channel": channel })), echo))
}

pub fn leave_packet(channel: &str, echo: Option<bool>) -> (String, String) {
    (LEAVE.to_owned(), with_echo(object(json!({ "channel": channel })), echo))
}

pub fn update_packet(data: &Value, echo: Option<bool>) -> (String, String) {
    (UPDATE.to_owned(), with_echo(object(json!({ "data": data })), echo))
}

/// The socket variant of members (answered through an ack), for servers without the HTTP API.
pub fn members_packet(channel: &str) -> (String, String) {
    (MEMBERS.to_owned(), json!([{ "channel": channel }]).to_string())
}

/// A broadcast (`channel` None) or a message to one channel; `message` is JSON text (validated by the
/// caller), sent as written.
pub fn message_packet(channel: Option<&str>, event_name: &str, message: &str, echo: Option<bool>) -> (String, String) {
    let mut payload = String::with_capacity(message.len() + event_name.len() + 64);
    payload.push_str("[{");
    if let Some(channel) = channel {
        payload.push_str("\"channel\":");
        json::push_string(&mut payload, channel);
        payload.push(',');
    }
    payload.push_str("\"eventName\":");
    json::push_string(&mut payload, event_name);
    payload.push_str(",\"message\":");
    payload.push_str(message.trim());
    if let Some(echo) = echo {
        payload.push_str(if echo { ",\"echo\":true" } else { ",\"echo\":false" });
    }
    payload.push_str("}]");
    (MESSAGE.to_owned(), payload)
}

/// Which membership change a `channel:*` event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelEventKind {
    Join,
    Leave,
    Update,
}

impl ChannelEventKind {
    pub fn event_name(self) -> &'static str {
        match self {
            Self::Join => "channel:join",
            Self::Leave => "channel:leave",
            Self::Update => "channel:update",
        }
    }
}

/// The `{channel, message: {id, data}}` envelope of `channel:join/leave/update` (never of messages).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberEnvelope {
    pub channel: Option<String>,
    pub member_id: Option<String>,
    pub data: Value,
}

/// The `channel` member of a payload object text: `Some(None)` when absent or null.
fn channel_of(payload: &str) -> Option<Option<String>> {
    match json::object_member(payload, "channel") {
        None | Some("null") => Some(None),
        Some(text) if text.starts_with('"') => Some(json::decode_string(text)),
        Some(_) => None,
    }
}

/// The first argument of an event, as text.
fn first_arg(event: &IncomingEvent) -> Option<&str> {
    json::split_first_element(event.args()).map(|(first, _)| first)
}

/// Reads a member envelope from a `channel:*` event's first argument; `None` when it has another shape.
pub fn parse_member_envelope(event: &IncomingEvent) -> Option<MemberEnvelope> {
    let payload = first_arg(event)?;
    let channel = channel_of(payload)?;
    // A member envelope is small and the server's own: a tree is fine for its profile.
    let message: Value = serde_json::from_str(json::object_member(payload, "message")?).ok()?;
    let inner = message.as_object()?;
    Some(MemberEnvelope {
        channel,
        member_id: inner.get("id").and_then(Value::as_str).map(str::to_owned),
        data: inner.get("data").cloned().unwrap_or(Value::Null),
    })
}

/// A channel message or broadcast: the channel (None for a broadcast) and the message's JSON text,
/// as the sender passed it. The single place that reads a message event, so that the switch to the
/// server's raw text (no re-serialisation) is local to it.
pub fn message_parts(event: &IncomingEvent) -> Option<(Option<String>, String)> {
    let payload = first_arg(event)?;
    if !payload.starts_with('{') {
        return None;
    }
    let channel = channel_of(payload)?;
    let message = json::object_member(payload, "message").unwrap_or("null").to_owned();
    Some((channel, message))
}

/// A user event's `(eventName, session, user)`: the event name and the session and user JSON texts.
pub fn user_event_parts(event: &IncomingEvent) -> (String, String, String) {
    let args = json::array_elements(event.args()).unwrap_or_default();
    let text = |i: usize| args.get(i).map_or_else(|| "null".to_owned(), |t| (*t).to_owned());
    match args.first().filter(|first| first.starts_with('"')).and_then(|first| json::decode_string(first)) {
        Some(name) if args.len() >= 2 => (name, text(1), text(2)),
        _ => (event.name().to_owned(), text(0), text(1)),
    }
}

/// The outcome of a members request: the members' JSON array text, or why there is none.
pub type MembersOutcome = std::result::Result<String, String>;
/// Runs once with a members request's outcome, on the socket's event queue.
pub type MembersCallback = Box<dyn FnOnce(MembersOutcome) + Send>;

/// Agnost's API server, for members: `POST {apiBaseUrl}/agnost/realtime/get-members` with `{channel}`,
/// `Authorization: <apiKey>` and `Session: <session token>`.
pub struct MembersApi {
    url: url::Url,
    headers: Vec<(String, String)>,
    tls: Option<crate::transport::TlsConfig>,
    timeout: std::time::Duration,
}

/// The path of Agnost's members endpoint under `apiBaseUrl`.
pub const MEMBERS_PATH: &str = "agnost/realtime/get-members";

impl MembersApi {
    /// `None` without an `apiBaseUrl`. The key and the session come from `apiKey`/`session`, else from
    /// `auth.apiKey`/`auth.session`.
    pub fn from_options(options: &super::ClientOptions) -> crate::error::Result<Option<Self>> {
        use crate::error::Error;
        let Some(base) = options.api_base_url.as_deref() else {
            return Ok(None);
        };
        let bad = |why: String| Error::InvalidOptions(format!("apiBaseUrl {base:?}: {why}"));
        let mut base_url = url::Url::parse(base).map_err(|e| bad(e.to_string()))?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https".to_owned()));
        }
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let url = base_url.join(MEMBERS_PATH).map_err(|e| bad(e.to_string()))?;
        let from_auth =
            |key: &str| options.auth.as_ref().and_then(|auth| auth.get(key)).and_then(Value::as_str).map(str::to_owned);
        let api_key = options.api_key.clone().or_else(|| from_auth("apiKey"));
        let session = options.session.clone().or_else(|| from_auth("session"));
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        headers.extend(api_key.map(|key| ("authorization".to_owned(), key)));
        headers.extend(session.map(|token| ("session".to_owned(), token)));
        let tls = if url.scheme() == "https" {
            let settings = crate::transport::TlsSettings {
                trust_store: options.trust_store,
                ca_file: options.ca_file.as_deref(),
                pins: &options.pinned_public_keys,
                client_cert_file: options.client_cert_file.as_deref(),
                client_key_file: options.client_key_file.as_deref(),
            };
            Some(crate::transport::TlsConfig::new(&settings).map_err(Error::InvalidOptions)?)
        } else {
            None
        };
        let timeout = options.ack_timeout.unwrap_or(options.timeout);
        Ok(Some(Self { url, headers, tls, timeout }))
    }

    /// Asks for `channel`'s members.
    pub async fn get_members(&self, channel: &str) -> MembersOutcome {
        let body = json!({ "channel": channel }).to_string().into_bytes();
        let response =
            crate::transport::http::request("POST", &self.url, &self.headers, body, self.tls.as_ref(), self.timeout)
                .await
                .map_err(|e| format!("members request to {} failed: {e}", self.url))?;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        if !(200..300).contains(&response.status) {
            return Err(format!("members request to {} failed with HTTP {}: {}", self.url, response.status, text));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(_)) => Ok(text),
            _ => Err(format!("members request to {}: the answer is not a JSON array: {text}", self.url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, args: Value) -> IncomingEvent {
        IncomingEvent::new(name.into(), args.to_string(), vec![], None)
    }

    #[test]
    fn payloads_use_agnost_vocabulary() {
        assert_eq!(join_packet("room", None), ("join".to_owned(), r#"[{"channel":"room"}]"#.to_owned()));
        assert_eq!(join_packet("room", Some(false)).1, r#"[{"channel":"room","echo":false}]"#);
        assert_eq!(leave_packet("room", Some(true)).1, r#"[{"channel":"room","echo":true}]"#);
        assert_eq!(update_packet(&json!({"name":"ann"}), None).1, r#"[{"data":{"name":"ann"}}]"#);
        assert_eq!(message_packet(None, "chat", r#""hi""#, None).1, r#"[{"eventName":"chat","message":"hi"}]"#);
        assert_eq!(
            message_packet(Some("room"), "chat", r#"{"t":1,"s":"\ud83d"}"#, Some(true)).1,
            r#"[{"channel":"room","eventName":"chat","message":{"t":1,"s":"\ud83d"},"echo":true}]"#
        );
    }

    #[test]
    fn parses_member_envelopes() {
        let e = parse_member_envelope(&event(
            "channel:join",
            json!([{"channel":"room","message":{"id":"abc","data":{"name":"ann"}}}]),
        ))
        .unwrap();
        assert_eq!(
            e,
            MemberEnvelope { channel: Some("room".into()), member_id: Some("abc".into()), data: json!({"name":"ann"}) }
        );
        assert!(parse_member_envelope(&event("x", json!(["plain"]))).is_none());
        assert!(parse_member_envelope(&event("x", json!([{"channel":1,"message":{}}]))).is_none());
    }

    #[test]
    fn messages_are_whole() {
        let msg = json!({"id":"m-17","data":{"k":[1,2]},"text":"hi"});
        let (channel, text) = message_parts(&event("chat", json!([{"channel":"room","message":msg}]))).unwrap();
        assert_eq!(channel.as_deref(), Some("room"));
        assert_eq!(text, r#"{"id":"m-17","data":{"k":[1,2]},"text":"hi"}"#);
        let (channel, text) = message_parts(&event("chat", json!([{"channel":null,"message":[1]}]))).unwrap();
        assert_eq!((channel, text.as_str()), (None, "[1]"));
        let raw = IncomingEvent::new(
            "chat".into(),
            r#"[{"channel":"r","message":{"s":"\ud83d","n":1e+21}}]"#.into(),
            vec![],
            None,
        );
        assert_eq!(message_parts(&raw).unwrap().1, r#"{"s":"\ud83d","n":1e+21}"#, "byte for byte");
    }

    #[test]
    fn user_events() {
        let (n, s, u) =
            user_event_parts(&event("user:update", json!(["user:update", {"token":"t"}, {"_id":"u1","name":"ann"}])));
        assert_eq!(
            (n.as_str(), s.as_str(), u.as_str()),
            ("user:update", r#"{"token":"t"}"#, r#"{"_id":"u1","name":"ann"}"#)
        );
    }

    #[test]
    fn members_api_from_options() {
        let o = crate::client::ClientOptions::from_json(Some(
            r#"{"apiBaseUrl":"http://h:1/env1","auth":{"apiKey":"k","session":"s"}}"#,
        ))
        .unwrap();
        let api = MembersApi::from_options(&o).unwrap().unwrap();
        assert_eq!(api.url.as_str(), "http://h:1/env1/agnost/realtime/get-members");
        assert!(api.headers.contains(&("authorization".to_owned(), "k".to_owned())));
        assert!(api.headers.contains(&("session".to_owned(), "s".to_owned())));
        let o = crate::client::ClientOptions::from_json(Some(
            r#"{"apiBaseUrl":"https://h/","apiKey":"k2","session":"s2","auth":{"apiKey":"k"}}"#,
        ))
        .unwrap();
        let api = MembersApi::from_options(&o).unwrap().unwrap();
        assert_eq!(api.url.as_str(), "https://h/agnost/realtime/get-members");
        assert!(api.headers.contains(&("authorization".to_owned(), "k2".to_owned())));
        assert!(api.tls.is_some());
        let none = crate::client::ClientOptions::from_json(None).unwrap();
        assert!(MembersApi::from_options(&none).unwrap().is_none());
        let bad = crate::client::ClientOptions::from_json(Some(r#"{"apiBaseUrl":"ws://h"}"#)).unwrap();
        assert!(MembersApi::from_options(&bad).is_err());
    }
}
