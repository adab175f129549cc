//! Agnost's realtime channels, as events over the socket.
//!
//! Client → server: `message` `{channel?, eventName, message}`, `join` `{channel}`, `leave`
//! `{channel}`, `update` `{data}`, `members` `{channel}` (answered through an ack). The connection's
//! `auth` carries `echoMessages`. Server → client: `channel:join`, `channel:leave` and
//! `channel:update` with `{channel, message: {id, data}}` (the member's socket id and profile); a
//! message arrives as its `eventName` with the same envelope, `channel` null for a broadcast.

use super::event::IncomingEvent;
use crate::protocol::json;
use serde_json::{json, Value};

pub const JOIN: &str = "join";
pub const LEAVE: &str = "leave";
pub const UPDATE: &str = "update";
pub const MEMBERS: &str = "members";
pub const MESSAGE: &str = "message";

pub fn join_packet(channel: &str) -> (String, String) {
    (JOIN.to_owned(), json!([{ "channel": channel }]).to_string())
}

pub fn leave_packet(channel: &str) -> (String, String) {
    (LEAVE.to_owned(), json!([{ "channel": channel }]).to_string())
}

pub fn update_packet(data: &Value) -> (String, String) {
    (UPDATE.to_owned(), json!([{ "data": data }]).to_string())
}

pub fn members_packet(channel: &str) -> (String, String) {
    (MEMBERS.to_owned(), json!([{ "channel": channel }]).to_string())
}

/// A broadcast (`channel` None) or a message to one channel; `message` is JSON text (validated by
/// the caller), sent as written.
pub fn message_packet(channel: Option<&str>, event_name: &str, message: &str) -> (String, String) {
    let mut payload = String::with_capacity(message.len() + event_name.len() + 48);
    payload.push_str("[{\"eventName\":");
    json::push_string(&mut payload, event_name);
    payload.push_str(",\"message\":");
    payload.push_str(message.trim());
    if let Some(channel) = channel {
        payload.push_str(",\"channel\":");
        json::push_string(&mut payload, channel);
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

/// The `{channel, message: {id, data}}` envelope of channel events and channel messages.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelEnvelope {
    pub channel: Option<String>,
    pub member_id: Option<String>,
    pub data: Value,
}

/// Reads the envelope from an event's first argument; `None` when it has another shape.
pub fn parse_envelope(event: &IncomingEvent) -> Option<ChannelEnvelope> {
    let args: Value = serde_json::from_str(&event.args).ok()?;
    let payload = args.as_array()?.first()?.as_object()?;
    let channel = match payload.get("channel") {
        Some(Value::String(s)) => Some(s.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return None,
    };
    let message = payload.get("message")?;
    let (member_id, data) = match message.as_object() {
        Some(inner) if inner.contains_key("id") || inner.contains_key("data") => (
            inner.get("id").and_then(Value::as_str).map(str::to_owned),
            inner.get("data").cloned().unwrap_or(Value::Null),
        ),
        _ => (None, message.clone()),
    };
    Some(ChannelEnvelope { channel, member_id, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_use_agnost_vocabulary() {
        assert_eq!(join_packet("room"), ("join".to_owned(), r#"[{"channel":"room"}]"#.to_owned()));
        assert_eq!(leave_packet("room").1, r#"[{"channel":"room"}]"#);
        assert_eq!(update_packet(&json!({"name":"ann"})).1, r#"[{"data":{"name":"ann"}}]"#);
        assert_eq!(members_packet("room").1, r#"[{"channel":"room"}]"#);
        assert_eq!(message_packet(None, "chat", r#""hi""#).1, r#"[{"eventName":"chat","message":"hi"}]"#);
        assert_eq!(
            message_packet(Some("room"), "chat", r#"{"t":1, "s":"\ud83d"}"#).1,
            r#"[{"eventName":"chat","message":{"t":1, "s":"\ud83d"},"channel":"room"}]"#
        );
    }

    #[test]
    fn parses_envelopes() {
        let event = |args: Value| IncomingEvent {
            name: "channel:join".into(),
            args: args.to_string(),
            attachments: vec![],
            ack: None,
        };
        let e =
            parse_envelope(&event(json!([{"channel":"room","message":{"id":"abc","data":{"name":"ann"}}}]))).unwrap();
        assert_eq!(
            e,
            ChannelEnvelope {
                channel: Some("room".into()),
                member_id: Some("abc".into()),
                data: json!({"name":"ann"})
            }
        );
        let e = parse_envelope(&event(json!([{"channel":null,"message":{"id":"x","data":"hi"}}]))).unwrap();
        assert_eq!((e.channel, e.data), (None, json!("hi")));
        assert!(parse_envelope(&event(json!(["plain"]))).is_none());
        assert!(parse_envelope(&event(json!([{"channel":1,"message":{}}]))).is_none());
    }
}
