//! Engine.IO v4 packets over WebSocket: one packet per frame; a text frame is a type digit plus UTF-8
//! data, a binary frame is always a `message`.

use super::ProtocolError;
use serde_json::Value;

/// The `0{…}` handshake the server sends first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub sid: String,
    pub upgrades: Vec<String>,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub max_payload: u64,
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnginePacket {
    Open(Handshake),
    Close,
    Ping(String),
    Pong(String),
    Message(String),
    Upgrade,
    Noop,
}

impl EnginePacket {
    /// Decodes a text frame.
    pub fn decode_text(text: &str) -> Result<Self, ProtocolError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(ProtocolError::Empty)?;
        let data = chars.as_str();
        Ok(match kind {
            '0' => EnginePacket::Open(Handshake::parse(data)?),
            '1' => EnginePacket::Close,
            '2' => EnginePacket::Ping(data.to_owned()),
            '3' => EnginePacket::Pong(data.to_owned()),
            '4' => EnginePacket::Message(data.to_owned()),
            '5' => EnginePacket::Upgrade,
            '6' => EnginePacket::Noop,
            other => return Err(ProtocolError::UnknownEngineType(other)),
        })
    }

    /// Encodes as a text frame, or `None` for a binary message (sent as the raw bytes).
    pub fn encode_text(&self) -> Option<String> {
        Some(match self {
            EnginePacket::Open(h) => format!("0{}", h.to_json()),
            EnginePacket::Close => "1".to_owned(),
            EnginePacket::Ping(d) => format!("2{d}"),
            EnginePacket::Pong(d) => format!("3{d}"),
            EnginePacket::Message(d) => format!("4{d}"),
            EnginePacket::Upgrade => "5".to_owned(),
            EnginePacket::Noop => "6".to_owned(),
        })
    }
}

impl Handshake {
    fn parse(data: &str) -> Result<Self, ProtocolError> {
        let bad = |what: &str| ProtocolError::BadHandshake(what.to_owned());
        let value: Value = serde_json::from_str(data).map_err(|e| bad(&e.to_string()))?;
        let obj = value.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let sid = obj.get("sid").and_then(Value::as_str).ok_or_else(|| bad("missing sid"))?;
        if sid.is_empty() {
            return Err(bad("empty sid"));
        }
        let number = |key: &str, default: u64| -> Result<u64, ProtocolError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => v.as_u64().ok_or_else(|| bad(&format!("{key} is not a non-negative integer"))),
            }
        };
        let upgrades = match obj.get("upgrades") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(_) => return Err(bad("upgrades is not an array")),
        };
        Ok(Handshake {
            sid: sid.to_owned(),
            upgrades,
            ping_interval_ms: number("pingInterval", 25_000)?,
            ping_timeout_ms: number("pingTimeout", 20_000)?,
            max_payload: number("maxPayload", 1_000_000)?,
        })
    }

    fn to_json(&self) -> String {
        serde_json::json!({
            "sid": self.sid,
            "upgrades": self.upgrades,
            "pingInterval": self.ping_interval_ms,
            "pingTimeout": self.ping_timeout_ms,
            "maxPayload": self.max_payload,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_handshake() {
        let p = EnginePacket::decode_text(
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#,
        )
        .unwrap();
        let EnginePacket::Open(h) = p else { panic!("not open: {p:?}") };
        assert_eq!(h.sid, "lv_VI97HAXpY6yYWAAAC");
        assert_eq!((h.ping_interval_ms, h.ping_timeout_ms, h.max_payload), (300, 200, 1_000_000));
        let round = EnginePacket::decode_text(&EnginePacket::Open(h.clone()).encode_text().unwrap()).unwrap();
        assert_eq!(round, EnginePacket::Open(h));
    }

    #[test]
    fn decodes_every_type() {
        assert_eq!(EnginePacket::decode_text("1").unwrap(), EnginePacket::Close);
        assert_eq!(EnginePacket::decode_text("2").unwrap(), EnginePacket::Ping(String::new()));
        assert_eq!(EnginePacket::decode_text("3probe").unwrap(), EnginePacket::Pong("probe".into()));
        assert_eq!(EnginePacket::decode_text("42[\"a\"]").unwrap(), EnginePacket::Message("2[\"a\"]".into()));
        assert_eq!(EnginePacket::decode_text("5").unwrap(), EnginePacket::Upgrade);
        assert_eq!(EnginePacket::decode_text("6").unwrap(), EnginePacket::Noop);
        assert_eq!(EnginePacket::Pong(String::new()).encode_text().unwrap(), "3");
        assert_eq!(EnginePacket::Message("0".into()).encode_text().unwrap(), "40");
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert_eq!(EnginePacket::decode_text(""), Err(ProtocolError::Empty));
        assert_eq!(EnginePacket::decode_text("7"), Err(ProtocolError::UnknownEngineType('7')));
        assert_eq!(EnginePacket::decode_text("é"), Err(ProtocolError::UnknownEngineType('é')));
        for bad in [
            "0",
            "0{",
            "0[]",
            "0{}",
            r#"0{"sid":""}"#,
            r#"0{"sid":1}"#,
            r#"0{"sid":"a","pingInterval":-1}"#,
            r#"0{"sid":"a","pingTimeout":"x"}"#,
            r#"0{"sid":"a","upgrades":"ws"}"#,
        ] {
            assert!(matches!(EnginePacket::decode_text(bad), Err(ProtocolError::BadHandshake(_))), "{bad}");
        }
    }
}
