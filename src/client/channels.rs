//! Agnost's realtime channels, as events over the socket.
//!
//! Client → server: `message` `{channel?, eventName, message}`, `join` `{channel}`, `leave`
//! `{channel}`, `update` `{data}`, `members` `{channel}` (answered through an ack). The connection's
//! `auth` carries `echoMessages`. Server → client: `channel:join`, `channel:leave` and
//! `channel:update` with `{channel, message: {id, data}}` (the member's socket id and profile); a
//! message arrives as its `eventName` with the same envelope, `channel` null for a broadcast.

use super::event::IncomingEvent;
use serde_json::{json, Value};

pub const JOIN: &str = "join";
pub const LEAVE: &str = "leave";
pub const UPDATE: &str = "update";
pub const MEMBERS: &str = "members";
pub const MESSAGE: &str = "message";

pub fn join_packet(channel: &str) -> (String, Vec<Value>) {
    (JOIN.to_owned(), vec![json!({ "channel": channel })])
}

pub fn leave_packet(channel: &str) -> (String, Vec<Value>) {
    (LEAVE.to_owned(), vec![json!({ "channel": channel })])
}

pub fn update_packet(data: &Value) -> (String, Vec<Value>) {
    (UPDATE.to_owned(), vec![json!({ "data": data })])
}

pub fn members_packet(channel: &str) -> (String, Vec<Value>) {
    (MEMBERS.to_owned(), vec![json!({ "channel": channel })])
}

/// A broadcast (`channel` None) or a message to one channel.
pub fn message_packet(channel: Option<&str>, event_name: &str, message: Value) -> (String, Vec<Value>) {
    let mut payload = json!({ "eventName": event_name, "message": message });
    if let Some(channel) = channel {
        payload["channel"] = Value::String(channel.to_owned());
    }
    (MESSAGE.to_owned(), vec![payload])
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
    let payload = event.args.first()?.as_object()?;
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
        assert_eq!(join_packet("room"), ("join".to_owned(), vec![json!({"channel":"room"})]));
        assert_eq!(leave_packet("room").1, vec![json!({"channel":"room"})]);
        assert_eq!(update_packet(&json!({"name":"ann"})).1, vec![json!({"data":{"name":"ann"}})]);
        assert_eq!(members_packet("room").1, vec![json!({"channel":"room"})]);
        assert_eq!(message_packet(None, "chat", json!("hi")).1, vec![json!({"eventName":"chat","message":"hi"})]);
        assert_eq!(
            message_packet(Some("room"), "chat", json!({"t":1})).1,
            vec![json!({"channel":"room","eventName":"chat","message":{"t":1}})]
        );
    }

    #[test]
    fn parses_envelopes() {
        let event = |args: Value| IncomingEvent {
            name: "channel:join".into(),
            args: args.as_array().unwrap().clone(),
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
