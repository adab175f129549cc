//! Socket.IO v5 packets: `<type>[<n>-][<nsp>,][<ackId>][<JSON>]`, then `n` binary attachments.
//!
//! Binary data stays out of the JSON: each buffer is referenced by a `{"_placeholder":true,"num":i}`
//! object and travels as its own binary frame, in order. Packets here keep the placeholders in `data`
//! and carry the buffers in `attachments`; nobody base64-encodes anything.

use super::json;
use super::ProtocolError;
use serde_json::Value;
use std::borrow::Cow;

/// socket.io-parser ≥ 4.2.6 refuses packets with more attachments than this.
pub const MAX_ATTACHMENTS: usize = 10;

/// Event names the protocol reserves: a server must not send them and a client must not emit them.
pub const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

/// The data of an EVENT as text: the name, then the arguments of `args` (a JSON array text, sent as
/// written): `("chat", "[1,{\"a\":2}]")` → `["chat",1,{"a":2}]`.
pub fn event_items(name: &str, args: &str) -> String {
    let inner = json::array_inner(args).unwrap_or("").trim();
    let mut out = String::with_capacity(name.len() + inner.len() + 5);
    out.push('[');
    json::push_string(&mut out, name);
    if !inner.is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    out.push(']');
    out
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

/// One Socket.IO packet. `data` is JSON text: on decode, exactly the server's (validated, never
/// rebuilt); on encode, sent as it is. For the binary types, `attachments` holds the buffers the
/// placeholders in `data` refer to (on decode: once the reassembler has collected them all).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: PacketType,
    /// `"/"` (the main namespace, by far the most common) is borrowed, never allocated.
    pub nsp: Cow<'static, str>,
    pub id: Option<u64>,
    pub data: Option<String>,
    pub attachments: Vec<Vec<u8>>,
}

/// A namespace as a packet holds it: the main one borrowed, any other owned.
fn nsp_of(nsp: &str) -> Cow<'static, str> {
    if nsp == "/" {
        Cow::Borrowed("/")
    } else {
        Cow::Owned(nsp.to_owned())
    }
}

impl Packet {
    pub fn new(kind: PacketType, nsp: &str, data: Option<String>) -> Self {
        Self { kind, nsp: nsp_of(nsp), id: None, data, attachments: Vec::new() }
    }

    /// CONNECT for `nsp`, with an optional payload object (auth, recovery fields).
    pub fn connect(nsp: &str, payload: Option<Value>) -> Self {
        Self::new(PacketType::Connect, nsp, payload.map(|p| p.to_string()))
    }

    pub fn disconnect(nsp: &str) -> Self {
        Self::new(PacketType::Disconnect, nsp, None)
    }

    /// EVENT (or BINARY_EVENT when there are attachments); `items` is the JSON array text
    /// `[name, ...args]` (see [`event_items`]).
    pub fn event(nsp: &str, items: String, attachments: Vec<Vec<u8>>, id: Option<u64>) -> Self {
        let kind = if attachments.is_empty() { PacketType::Event } else { PacketType::BinaryEvent };
        Self { kind, nsp: nsp_of(nsp), id, data: Some(items), attachments }
    }

    /// ACK (or BINARY_ACK when there are attachments); `args` is a JSON array text.
    pub fn ack(nsp: &str, id: u64, args: String, attachments: Vec<Vec<u8>>) -> Self {
        let kind = if attachments.is_empty() { PacketType::Ack } else { PacketType::BinaryAck };
        Self { kind, nsp: nsp_of(nsp), id: Some(id), data: Some(args), attachments }
    }

    /// The text part of the packet (without the Engine.IO `4`); the attachments follow as binary frames.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }

    /// [`Self::encode`], appended to `out` (the writer prefixes the Engine.IO `4` without a copy).
    pub fn encode_into(&self, out: &mut String) {
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
            out.push_str(data);
        }
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

        let mut nsp = Cow::Borrowed("/");
        if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            nsp = nsp_of(&rest[..end]);
            rest = rest.get(end + 1..).unwrap_or("");
        }

        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id =
            if digits > 0 { Some(rest[..digits].parse::<u64>().map_err(|_| ProtocolError::BadAckId)?) } else { None };
        rest = &rest[digits..];

        let data = (!rest.is_empty()).then(|| rest.to_owned());
        let scan = match &data {
            Some(text) => json::validate(text).map_err(|e| ProtocolError::BadJson(e.to_string()))?,
            None => json::Scan::default(),
        };
        validate_payload(kind, data.as_deref())?;
        // socket.io-parser replaces the placeholders of a binary packet only (a plain EVENT may carry
        // such objects as data), and refuses one whose `num` names no attachment.
        if kind.is_binary() && scan.placeholders.iter().any(|p| p.num.is_none_or(|n| n >= expected as u64)) {
            return Err(ProtocolError::BadPlaceholder);
        }
        let packet = Packet { kind, nsp, id, data, attachments: Vec::new() };
        Ok((packet, expected))
    }

    /// For an EVENT: the event name (decoded: a string, or a number as its text) and the arguments
    /// after it as the server's JSON array text (`["ev",1,{"a":2}]` → `[1,{"a":2}]`).
    pub fn event_name_and_args(&self) -> Option<(String, String)> {
        let (first, rest) = json::split_first_element(self.data.as_deref()?)?;
        let name = event_name(first)?.into_owned();
        let args = match rest.strip_prefix(',') {
            Some(after) => {
                let mut args = String::with_capacity(after.len() + 1);
                args.push('[');
                args.push_str(after);
                args
            }
            None => "[]".to_owned(),
        };
        Some((name, args))
    }
}

/// An event name from the first element of an EVENT: a string literal (decoded) or a number.
fn event_name(first: &str) -> Option<Cow<'_, str>> {
    match first.as_bytes().first()? {
        b'"' => json::decode_string_cow(first),
        b'-' | b'0'..=b'9' => Some(Cow::Borrowed(first)),
        _ => None,
    }
}

/// The first non-blank byte of a JSON text.
fn leading(data: Option<&str>) -> Option<u8> {
    data?.bytes().find(|b| !b.is_ascii_whitespace())
}

fn validate_payload(kind: PacketType, data: Option<&str>) -> Result<(), ProtocolError> {
    let ok = match kind {
        PacketType::Connect => matches!(leading(data), None | Some(b'{')),
        PacketType::Disconnect => data.is_none(),
        PacketType::ConnectError => matches!(leading(data), Some(b'{' | b'"')),
        PacketType::Event | PacketType::BinaryEvent => match data.and_then(json::split_first_element) {
            Some((first, _)) => match event_name(first) {
                Some(name) if first.starts_with('"') && is_reserved_event(&name) => {
                    return Err(ProtocolError::ReservedEvent(name.into_owned()))
                }
                Some(_) => true,
                None => false,
            },
            None => false,
        },
        PacketType::Ack | PacketType::BinaryAck => matches!(leading(data), None | Some(b'[')),
    };
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::BadPayload(kind))
    }
}

/// Checks an application's JSON array text before it is sent: valid JSON at any depth, and every
/// `{"_placeholder":true,"num":i}` exact with an integer `i < attachments`.
pub fn validate_outgoing(args: &str, attachments: usize) -> Result<(), ProtocolError> {
    let scan = json::validate(args).map_err(|e| ProtocolError::BadJson(e.to_string()))?;
    if leading(Some(args)) != Some(b'[') {
        return Err(ProtocolError::BadPayload(PacketType::Event));
    }
    if scan.placeholders.iter().any(|p| !p.exact || p.num.is_none_or(|n| n >= attachments as u64)) {
        return Err(ProtocolError::BadPlaceholder);
    }
    Ok(())
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
        Ok(Some(packet))
    }

    /// A binary frame arrived. Returns the packet when it was the last attachment.
    pub fn feed_binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, ProtocolError> {
        let (packet, expected) = self.pending.as_mut().ok_or(ProtocolError::UnexpectedBinary)?;
        packet.attachments.push(bytes);
        if packet.attachments.len() < *expected {
            return Ok(None);
        }
        let (packet, _) = self.pending.take().expect("pending packet");
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
            Packet::event("/", event_items("echo", r#"["a",{"n":1.5}]"#), vec![], None).encode(),
            r#"2["echo","a",{"n":1.5}]"#
        );
        assert_eq!(
            Packet::event("/", event_items("echo", r#"["x",null]"#), vec![], Some(7)).encode(),
            r#"27["echo","x",null]"#
        );
        assert_eq!(Packet::ack("/admin", 13, r#"["bar"]"#.into(), vec![]).encode(), r#"3/admin,13["bar"]"#);
        let binary = Packet::event(
            "/admin",
            event_items("baz", r#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            vec![vec![1], vec![2]],
            Some(789),
        );
        assert_eq!(
            binary.encode(),
            r#"52-/admin,789["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(
            Packet::ack("/", 3, r#"[{"_placeholder":true,"num":0}]"#.into(), vec![vec![9]]).encode(),
            r#"61-3[{"_placeholder":true,"num":0}]"#
        );
    }

    #[test]
    fn decodes_the_protocol_examples() {
        let p = decode(r#"0{"sid":"zX6Q"}"#);
        assert_eq!((p.kind, p.nsp.as_ref(), p.data.as_deref()), (PacketType::Connect, "/", Some(r#"{"sid":"zX6Q"}"#)));
        let p = decode("0/admin");
        assert_eq!((p.kind, p.nsp.as_ref()), (PacketType::Connect, "/admin"));
        let p = decode("1/admin,");
        assert_eq!((p.kind, p.nsp.as_ref(), p.data), (PacketType::Disconnect, "/admin", None));
        let p = decode(r#"4/secure,{"message":"not authorized","data":{"hint":"send token"}}"#);
        assert_eq!(p.kind, PacketType::ConnectError);
        assert_eq!(p.nsp, "/secure");
        let p = decode(r#"27["echo","x",null]"#);
        assert_eq!((p.kind, p.id), (PacketType::Event, Some(7)));
        let (name, args) = p.event_name_and_args().unwrap();
        assert_eq!((name.as_str(), args.as_str()), ("echo", r#"["x",null]"#));
        let p = decode(r#"3/admin,13["bar"]"#);
        assert_eq!((p.kind, p.nsp.as_ref(), p.id), (PacketType::Ack, "/admin", Some(13)));
        let p = decode("3/admin,13");
        assert_eq!((p.kind, p.id, p.data), (PacketType::Ack, Some(13), None));
        let p = decode(r#"2[42,"numeric name"]"#);
        assert_eq!(p.event_name_and_args().unwrap().0, "42");
        let p = decode(r#"2["a\ud83db",{"k":"\udc00"},1e400,12345678901234567890]"#);
        let (name, args) = p.event_name_and_args().unwrap();
        assert_eq!(name, "a\u{FFFD}b");
        assert_eq!(args, r#"[{"k":"\udc00"},1e400,12345678901234567890]"#, "arguments kept as sent");
        let deep = format!("2[\"deep\",{}{}]", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(decode(&deep).event_name_and_args().unwrap().1.len(), 20_002);
        let p = decode(r#"2["a",{"_placeholder":true,"num":0}]"#);
        assert_eq!(p.event_name_and_args().unwrap().1, r#"[{"_placeholder":true,"num":0}]"#, "plain data");
        let (p, n) = Packet::decode(r#"52-/admin,789["baz",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!((p.kind, p.nsp.as_ref(), p.id, n), (PacketType::BinaryEvent, "/admin", Some(789), 2));
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
        assert!(matches!(Packet::decode("2[\"a\",\"\\x\"]"), Err(ProtocolError::BadJson(_))));
        assert_eq!(
            validate_outgoing(r#"[{"_placeholder":true,"num":0,"x":1}]"#, 1),
            Err(ProtocolError::BadPlaceholder)
        );
        assert_eq!(validate_outgoing(r#"[{"_placeholder":true,"num":1}]"#, 1), Err(ProtocolError::BadPlaceholder));
        assert_eq!(validate_outgoing(r#"[{"_placeholder":true,"num":0}]"#, 1), Ok(()));
        assert_eq!(validate_outgoing("{}", 0), Err(ProtocolError::BadPayload(PacketType::Event)));
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
        assert_eq!(r.feed_text(r#"51-["a",{"_placeholder":true,"num":1}]"#), Err(ProtocolError::BadPlaceholder));
        let mut r = BinaryReassembler::new();
        assert_eq!(r.feed_text(r#"51-["a",{"_placeholder":true,"num":"0"}]"#), Err(ProtocolError::BadPlaceholder));
        assert!(!r.is_pending());
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
