//! Socket.IO v5 packets: `<type>[<n>-][<nsp>,][<ackId>][<JSON>]`, then `n` binary attachments.
//!
//! Binary data stays out of the JSON: each buffer is referenced by a `{"_placeholder":true,"num":i}`
//! object and travels as its own binary frame, in order. Packets here keep the placeholders in `data`
//! and carry the buffers in `attachments`; nobody base64-encodes anything.

use super::ProtocolError;
use serde_json::Value;

/// socket.io-parser ≥ 4.2.6 refuses packets with more attachments than this.
pub const MAX_ATTACHMENTS: usize = 10;

/// Event names the protocol reserves: a server must not send them and a client must not emit them.
pub const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

/// The data of an EVENT: the name, then the arguments.
pub fn event_items(name: String, args: impl IntoIterator<Item = Value>) -> Vec<Value> {
    std::iter::once(Value::String(name)).chain(args).collect()
}

/// Whether `name` is one of [`RESERVED_EVENTS`].
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

impl PacketType {
    fn from_char(c: char) -> Option<Self> {
        Some(match c {
            '0' => Self::Connect,
            '1' => Self::Disconnect,
            '2' => Self::Event,
            '3' => Self::Ack,
            '4' => Self::ConnectError,
            '5' => Self::BinaryEvent,
            '6' => Self::BinaryAck,
            _ => return None,
        })
    }

    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// One Socket.IO packet. For the binary types, `attachments` holds the buffers the placeholders in
/// `data` refer to (on decode: once the reassembler has collected them all).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: PacketType,
    pub nsp: String,
    pub id: Option<u64>,
    pub data: Option<Value>,
    pub attachments: Vec<Vec<u8>>,
}

impl Packet {
    pub fn new(kind: PacketType, nsp: &str, data: Option<Value>) -> Self {
        Self { kind, nsp: nsp.to_owned(), id: None, data, attachments: Vec::new() }
    }

    /// CONNECT for `nsp`, with an optional payload object (auth, recovery fields).
    pub fn connect(nsp: &str, payload: Option<Value>) -> Self {
        Self::new(PacketType::Connect, nsp, payload)
    }

    pub fn disconnect(nsp: &str) -> Self {
        Self::new(PacketType::Disconnect, nsp, None)
    }

    /// EVENT (or BINARY_EVENT when there are attachments).
    pub fn event(nsp: &str, args: Vec<Value>, attachments: Vec<Vec<u8>>, id: Option<u64>) -> Self {
        let kind = if attachments.is_empty() { PacketType::Event } else { PacketType::BinaryEvent };
        Self { kind, nsp: nsp.to_owned(), id, data: Some(Value::Array(args)), attachments }
    }

    /// ACK (or BINARY_ACK when there are attachments).
    pub fn ack(nsp: &str, id: u64, args: Vec<Value>, attachments: Vec<Vec<u8>>) -> Self {
        let kind = if attachments.is_empty() { PacketType::Ack } else { PacketType::BinaryAck };
        Self { kind, nsp: nsp.to_owned(), id: Some(id), data: Some(Value::Array(args)), attachments }
    }

    /// The text part of the packet (without the Engine.IO `4`); the attachments follow as binary frames.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        out.push(char::from(b'0' + self.kind as u8));
        if self.kind.is_binary() {
            out.push_str(&self.attachments.len().to_string());
            out.push('-');
        }
        if !self.nsp.is_empty() && self.nsp != "/" {
            out.push_str(&self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            out.push_str(&id.to_string());
        }
        if let Some(data) = &self.data {
            out.push_str(&data.to_string());
        }
        out
    }

    /// Decodes the text part. For a binary packet, returns it with the number of attachments to wait for.
    pub fn decode(text: &str) -> Result<(Self, usize), ProtocolError> {
        let mut chars = text.char_indices().peekable();
        let (_, type_char) = chars.next().ok_or(ProtocolError::Empty)?;
        let kind = PacketType::from_char(type_char).ok_or(ProtocolError::UnknownSocketType(type_char))?;
        let mut rest = &text[type_char.len_utf8()..];

        let mut expected = 0usize;
        if kind.is_binary() {
            let dash = rest.find('-').ok_or(ProtocolError::BadAttachmentCount)?;
            let digits = &rest[..dash];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ProtocolError::BadAttachmentCount);
            }
            expected = digits.parse().map_err(|_| ProtocolError::BadAttachmentCount)?;
            if expected > MAX_ATTACHMENTS {
                return Err(ProtocolError::TooManyAttachments(expected));
            }
            rest = &rest[dash + 1..];
        }

        let mut nsp = "/".to_owned();
        if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            nsp = rest[..end].to_owned();
            rest = rest.get(end + 1..).unwrap_or("");
        }

        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id =
            if digits > 0 { Some(rest[..digits].parse::<u64>().map_err(|_| ProtocolError::BadAckId)?) } else { None };
        rest = &rest[digits..];

        let data = if rest.is_empty() {
            None
        } else {
            Some(serde_json::from_str::<Value>(rest).map_err(|e| ProtocolError::BadJson(e.to_string()))?)
        };
        validate_payload(kind, data.as_ref())?;
        let packet = Packet { kind, nsp, id, data, attachments: Vec::new() };
        Ok((packet, expected))
    }

    /// For an EVENT: the event name (string, or a number as text) and the arguments after it.
    pub fn event_name_and_args(&self) -> Option<(String, &[Value])> {
        let items = self.data.as_ref()?.as_array()?;
        let (first, args) = items.split_first()?;
        let name = match first {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        Some((name, args))
    }
}

fn validate_payload(kind: PacketType, data: Option<&Value>) -> Result<(), ProtocolError> {
    let ok = match kind {
        PacketType::Connect => matches!(data, None | Some(Value::Object(_))),
        PacketType::Disconnect => data.is_none(),
        PacketType::ConnectError => matches!(data, Some(Value::Object(_)) | Some(Value::String(_))),
        PacketType::Event | PacketType::BinaryEvent => match data {
            Some(Value::Array(items)) => match items.first() {
                Some(Value::Number(_)) => true,
                Some(Value::String(name)) => {
                    if is_reserved_event(name) {
                        return Err(ProtocolError::ReservedEvent(name.clone()));
                    }
                    true
                }
                _ => false,
            },
            _ => false,
        },
        PacketType::Ack | PacketType::BinaryAck => matches!(data, None | Some(Value::Array(_))),
    };
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::BadPayload(kind))
    }
}

/// Checks that every `{"_placeholder":true,"num":i}` in `data` has an integer `i < attachments`.
pub fn validate_placeholders(data: &Value, attachments: usize) -> Result<(), ProtocolError> {
    match data {
        Value::Array(items) => items.iter().try_for_each(|v| validate_placeholders(v, attachments)),
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                match map.get("num").and_then(Value::as_u64) {
                    Some(num) if (num as usize) < attachments && map.len() == 2 => Ok(()),
                    _ => Err(ProtocolError::BadPlaceholder),
                }
            } else {
                map.values().try_for_each(|v| validate_placeholders(v, attachments))
            }
        }
        _ => Ok(()),
    }
}

/// Collects a binary packet's attachments from the frames that follow its header.
#[derive(Debug, Default)]
pub struct BinaryReassembler {
    pending: Option<(Packet, usize)>,
}

impl BinaryReassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a binary packet is waiting for attachments.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// A Socket.IO text packet arrived. Returns the packet when it is complete.
    pub fn feed_text(&mut self, text: &str) -> Result<Option<Packet>, ProtocolError> {
        if let Some((_, expected)) = &self.pending {
            return Err(ProtocolError::UnexpectedText(*expected));
        }
        let (packet, expected) = Packet::decode(text)?;
        if packet.kind.is_binary() && expected > 0 {
            self.pending = Some((packet, expected));
            return Ok(None);
        }
        if let Some(data) = &packet.data {
            validate_placeholders(data, 0)?;
        }
        Ok(Some(packet))
    }

    /// A binary frame arrived. Returns the packet when it was the last attachment.
    pub fn feed_binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, ProtocolError> {
        let (packet, expected) = self.pending.as_mut().ok_or(ProtocolError::UnexpectedBinary)?;
        packet.attachments.push(bytes);
        if packet.attachments.len() < *expected {
            return Ok(None);
        }
        let (packet, expected) = self.pending.take().expect("pending packet");
        if let Some(data) = &packet.data {
            validate_placeholders(data, expected)?;
        }
        Ok(Some(packet))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(text: &str) -> Packet {
        let (p, n) = Packet::decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(n, 0);
        p
    }

    #[test]
    fn encodes_the_protocol_examples() {
        assert_eq!(Packet::connect("/", None).encode(), "0");
        assert_eq!(Packet::connect("/", Some(json!({"token":"123"}))).encode(), r#"0{"token":"123"}"#);
        assert_eq!(Packet::connect("/admin", None).encode(), "0/admin,");
        assert_eq!(Packet::connect("/admin", Some(json!({"token":"abc"}))).encode(), r#"0/admin,{"token":"abc"}"#);
        assert_eq!(Packet::disconnect("/admin").encode(), "1/admin,");
        assert_eq!(
            Packet::event("/", vec![json!("echo"), json!("a"), json!({"n":1.5})], vec![], None).encode(),
            r#"2["echo","a",{"n":1.5}]"#
        );
        assert_eq!(
            Packet::event("/", vec![json!("echo"), json!("x"), Value::Null], vec![], Some(7)).encode(),
            r#"27["echo","x",null]"#
        );
        assert_eq!(Packet::ack("/admin", 13, vec![json!("bar")], vec![]).encode(), r#"3/admin,13["bar"]"#);
        let binary = Packet::event(
            "/admin",
            vec![json!("baz"), json!({"_placeholder":true,"num":0}), json!({"_placeholder":true,"num":1})],
            vec![vec![1], vec![2]],
            Some(789),
        );
        assert_eq!(
            binary.encode(),
            r#"52-/admin,789["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(
            Packet::ack("/", 3, vec![json!({"_placeholder":true,"num":0})], vec![vec![9]]).encode(),
            r#"61-3[{"_placeholder":true,"num":0}]"#
        );
    }

    #[test]
    fn decodes_the_protocol_examples() {
        let p = decode(r#"0{"sid":"zX6Q"}"#);
        assert_eq!((p.kind, p.nsp.as_str(), p.data), (PacketType::Connect, "/", Some(json!({"sid":"zX6Q"}))));
        let p = decode("0/admin");
        assert_eq!((p.kind, p.nsp.as_str()), (PacketType::Connect, "/admin"));
        let p = decode("1/admin,");
        assert_eq!((p.kind, p.nsp.as_str(), p.data), (PacketType::Disconnect, "/admin", None));
        let p = decode(r#"4/secure,{"message":"not authorized","data":{"hint":"send token"}}"#);
        assert_eq!(p.kind, PacketType::ConnectError);
        assert_eq!(p.nsp, "/secure");
        let p = decode(r#"27["echo","x",null]"#);
        assert_eq!((p.kind, p.id), (PacketType::Event, Some(7)));
        let (name, args) = p.event_name_and_args().unwrap();
        assert_eq!((name.as_str(), args), ("echo", &[json!("x"), Value::Null][..]));
        let p = decode(r#"3/admin,13["bar"]"#);
        assert_eq!((p.kind, p.nsp.as_str(), p.id), (PacketType::Ack, "/admin", Some(13)));
        let p = decode("3/admin,13");
        assert_eq!((p.kind, p.id, p.data), (PacketType::Ack, Some(13), None));
        let p = decode(r#"2[42,"numeric name"]"#);
        assert_eq!(p.event_name_and_args().unwrap().0, "42");
        let (p, n) = Packet::decode(r#"52-/admin,789["baz",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!((p.kind, p.nsp.as_str(), p.id, n), (PacketType::BinaryEvent, "/admin", Some(789), 2));
    }

    #[test]
    fn round_trips() {
        for text in [r#"2["a",{"b":[1,2,3]}]"#, r#"2/x,5["a"]"#, "1", "0", r#"3/n,0[]"#, r#"4{"message":"m"}"#] {
            let (p, _) = Packet::decode(text).unwrap();
            assert_eq!(p.encode(), text);
        }
    }

    #[test]
    fn malformed_packets_are_errors() {
        let cases: &[(&str, ProtocolError)] = &[
            ("", ProtocolError::Empty),
            ("7", ProtocolError::UnknownSocketType('7')),
            ("x", ProtocolError::UnknownSocketType('x')),
            ("5[\"a\"]", ProtocolError::BadAttachmentCount),
            ("5x-[\"a\"]", ProtocolError::BadAttachmentCount),
            ("5-[\"a\"]", ProtocolError::BadAttachmentCount),
            ("511-[\"a\"]", ProtocolError::TooManyAttachments(11)),
            ("599999999999999999999999-[\"a\"]", ProtocolError::BadAttachmentCount),
            ("2999999999999999999999[\"a\"]", ProtocolError::BadAckId),
            ("0\"str\"", ProtocolError::BadPayload(PacketType::Connect)),
            ("0[1]", ProtocolError::BadPayload(PacketType::Connect)),
            ("1{}", ProtocolError::BadPayload(PacketType::Disconnect)),
            ("2", ProtocolError::BadPayload(PacketType::Event)),
            ("2[]", ProtocolError::BadPayload(PacketType::Event)),
            ("2{}", ProtocolError::BadPayload(PacketType::Event)),
            ("2[null]", ProtocolError::BadPayload(PacketType::Event)),
            ("2[[1]]", ProtocolError::BadPayload(PacketType::Event)),
            ("3{}", ProtocolError::BadPayload(PacketType::Ack)),
            ("4", ProtocolError::BadPayload(PacketType::ConnectError)),
            ("4[1]", ProtocolError::BadPayload(PacketType::ConnectError)),
            ("2[\"disconnect\"]", ProtocolError::ReservedEvent("disconnect".into())),
            ("2[\"connect\",1]", ProtocolError::ReservedEvent("connect".into())),
        ];
        for (text, err) in cases {
            assert_eq!(Packet::decode(text).map(|_| ()).unwrap_err(), *err, "{text:?}");
        }
        assert!(matches!(Packet::decode("2[\"a\""), Err(ProtocolError::BadJson(_))));
        assert!(matches!(Packet::decode("2/a,[1}"), Err(ProtocolError::BadJson(_))));
    }

    #[test]
    fn reassembles_binary_packets() {
        let mut r = BinaryReassembler::new();
        let header = r#"52-["baz",{"_placeholder":true,"num":1},{"x":{"_placeholder":true,"num":0}}]"#;
        assert_eq!(r.feed_text(header).unwrap(), None);
        assert!(r.is_pending());
        assert_eq!(r.feed_binary(vec![1, 2]).unwrap(), None);
        let p = r.feed_binary(vec![3]).unwrap().unwrap();
        assert_eq!(p.attachments, vec![vec![1, 2], vec![3]]);
        assert!(!r.is_pending());
        // n = 0 completes at once.
        let p = r.feed_text(r#"50-["empty"]"#).unwrap().unwrap();
        assert!(p.attachments.is_empty());
    }

    #[test]
    fn reassembly_errors() {
        let mut r = BinaryReassembler::new();
        assert_eq!(r.feed_binary(vec![1]), Err(ProtocolError::UnexpectedBinary));
        r.feed_text(r#"51-["a",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(r.feed_text(r#"2["b"]"#), Err(ProtocolError::UnexpectedText(1)));
        let mut r = BinaryReassembler::new();
        r.feed_text(r#"51-["a",{"_placeholder":true,"num":1}]"#).unwrap();
        assert_eq!(r.feed_binary(vec![1]), Err(ProtocolError::BadPlaceholder));
        let mut r = BinaryReassembler::new();
        r.feed_text(r#"51-["a",{"_placeholder":true,"num":"0"}]"#).unwrap();
        assert_eq!(r.feed_binary(vec![1]), Err(ProtocolError::BadPlaceholder));
        let mut r = BinaryReassembler::new();
        assert_eq!(r.feed_text(r#"2["a",{"_placeholder":true,"num":0}]"#), Err(ProtocolError::BadPlaceholder));
    }

    #[test]
    fn never_panics_on_arbitrary_prefixes() {
        let samples = [
            r#"52-/admin,789["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            r#"4/secure,{"message":"not authorized","data":{"hint":"send token"}}"#,
            r#"0{"sid":"zX6Q","pid":"p"}"#,
            "3/admin,13[\"bär\"]",
        ];
        for sample in samples {
            for (i, _) in sample.char_indices() {
                let _ = Packet::decode(&sample[..i]);
                let _ = Packet::decode(&sample[i..]);
                let _ = BinaryReassembler::new().feed_text(&sample[i..]);
            }
        }
    }
}
