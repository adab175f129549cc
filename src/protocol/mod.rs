//! Pure protocol code: Engine.IO v4 and Socket.IO v5 codecs, binary attachment reassembly and
//! socket.io-client's reconnection backoff. No IO, no tokio, no clocks: everything here is a function
//! of its inputs, so it is unit-tested and fuzzable on its own.

pub mod backoff;
pub mod engineio;
pub mod json;
pub mod socketio;

pub use backoff::ReconnectBackoff;
pub use engineio::{EnginePacket, Handshake};
pub use socketio::{BinaryReassembler, Packet, PacketType};

/// A packet that does not follow the protocol. Never a panic: every malformed input is one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("empty packet")]
    Empty,
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownEngineType(char),
    #[error("unknown Socket.IO packet type {0:?}")]
    UnknownSocketType(char),
    #[error("invalid handshake: {0}")]
    BadHandshake(String),
    #[error("invalid attachment count")]
    BadAttachmentCount,
    #[error("too many attachments: {0} (at most {max})", max = socketio::MAX_ATTACHMENTS)]
    TooManyAttachments(usize),
    #[error("invalid ack id")]
    BadAckId,
    #[error("invalid JSON payload: {0}")]
    BadJson(String),
    #[error("invalid payload for a {0:?} packet")]
    BadPayload(PacketType),
    #[error("reserved event name {0:?}")]
    ReservedEvent(String),
    #[error("binary frame without a pending binary packet")]
    UnexpectedBinary,
    #[error("text frame while {0} attachment(s) are still expected")]
    UnexpectedText(usize),
    #[error("invalid attachment placeholder")]
    BadPlaceholder,
}

#[cfg(test)]
mod random_input_tests {
    //! Seeded random input for every decoder: whatever arrives, the answer is a value or an error,
    //! never a panic (a panic here would be a crash in an application's IO thread).
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Characters the protocol gives meaning to, plus a few that it does not.
    const ALPHABET: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "9",
        "-",
        "/",
        ",",
        "[",
        "]",
        "{",
        "}",
        "\"",
        ":",
        "_placeholder",
        "num",
        "true",
        "null",
        "sid",
        "é",
        "\u{0}",
        " ",
        "99999999999999999999",
        "admin",
        "\\",
    ];

    fn random_text(rng: &mut StdRng) -> String {
        (0..rng.gen_range(0..24)).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())]).collect()
    }

    #[test]
    fn decoders_never_panic_on_random_input() {
        let mut rng = StdRng::seed_from_u64(0x5eed_2026);
        for _ in 0..200_000 {
            let text = random_text(&mut rng);
            let _ = EnginePacket::decode_text(&text);
            let _ = Packet::decode(&text);
            let mut reassembler = BinaryReassembler::new();
            for _ in 0..rng.gen_range(1..4) {
                if rng.gen_bool(0.5) {
                    let _ = reassembler.feed_text(&random_text(&mut rng));
                } else {
                    let bytes: Vec<u8> = (0..rng.gen_range(0..8)).map(|_| rng.gen()).collect();
                    let _ = reassembler.feed_binary(bytes);
                }
            }
        }
    }

    #[test]
    fn whatever_decodes_encodes_back_to_something_that_decodes_the_same() {
        let mut rng = StdRng::seed_from_u64(0x0dd_c0de);
        let mut decoded = 0;
        for _ in 0..200_000 {
            let text = random_text(&mut rng);
            if let Ok((packet, 0)) = Packet::decode(&text) {
                decoded += 1;
                let (again, _) = Packet::decode(&packet.encode()).expect("re-encoded packet decodes");
                assert_eq!(again, packet, "{text:?}");
            }
        }
        assert!(decoded > 100, "the generator should hit valid packets too ({decoded})");
    }
}
