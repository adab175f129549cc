//! Entry points for the coverage-guided fuzz targets in `fuzz/` (cargo-fuzz) and for the regression
//! test that replays their crash inputs (`fuzz/regressions/<target>/*`). Not part of the C ABI or of
//! any stable Rust interface.
//!
//! Each function feeds arbitrary bytes to one decoder of [`crate::protocol`] and checks what must hold
//! whatever the input is: no panic, and whatever decodes encodes back to something that decodes the
//! same. A violated property panics (libFuzzer reports it as a crash).

use crate::protocol::{json, BinaryReassembler, EnginePacket, Packet};

/// A fuzz target: takes any bytes, panics only when a property is violated.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the `fuzz/fuzz_targets/<name>.rs` files and `fuzz/regressions/<name>/`).
pub const TARGETS: &[(&str, Target)] =
    &[("engineio", engineio), ("socketio", socketio), ("json", json_validator), ("reassembly", reassembly)];

/// An Engine.IO text frame (the handshake included): decode, and re-encode what decodes.
pub fn engineio(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(packet) = EnginePacket::decode_text(text) {
        if let Some(encoded) = packet.encode_text() {
            let again = EnginePacket::decode_text(&encoded).expect("a re-encoded Engine.IO packet decodes");
            assert_eq!(again, packet, "{text:?}");
        }
    }
}

/// A Socket.IO packet's text part: decode; a packet without attachments round-trips, and its event
/// name and arguments can be read without a panic.
pub fn socketio(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok((packet, attachments)) = Packet::decode(text) {
        let _ = packet.event_name_and_args();
        if attachments == 0 {
            let (again, n) = Packet::decode(&packet.encode()).expect("a re-encoded Socket.IO packet decodes");
            assert_eq!((again, n), (packet, 0), "{text:?}");
        }
    }
}

/// The JSON validator and the span helpers built on it: they agree with each other and never panic.
pub fn json_validator(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let valid = json::validate(text).is_ok();
    if valid {
        // serde_json accepts a subset (no lone surrogates, depth ≤ 128); what it accepts we accept.
        if let Some(elements) = json::array_elements(text) {
            for element in elements {
                assert!(json::validate(element).is_ok(), "element {element:?} of {text:?}");
            }
        }
        let _ = json::split_first_element(text);
        let _ = json::array_inner(text);
        let _ = json::object_member(text, "sid");
        let _ = json::decode_string(text);
    } else {
        assert!(serde_json::from_str::<serde_json::Value>(text).is_err(), "serde_json accepts {text:?}");
    }
}

/// Binary reassembly: the first byte of each chunk chooses a text or a binary frame, whose length is
/// the next byte; frames go through one reassembler, which must stay consistent.
pub fn reassembly(data: &[u8]) {
    let mut reassembler = BinaryReassembler::new();
    let mut rest = data;
    while let [kind, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (frame, next) = tail.split_at(len);
        rest = next;
        let result = if kind & 1 == 0 {
            match std::str::from_utf8(frame) {
                Ok(text) => reassembler.feed_text(text),
                Err(_) => continue,
            }
        } else {
            reassembler.feed_binary(frame.to_vec())
        };
        match result {
            Ok(Some(packet)) => {
                assert!(!reassembler.is_pending(), "a complete packet leaves nothing pending");
                assert!(packet.attachments.len() <= crate::protocol::socketio::MAX_ATTACHMENTS);
            }
            Ok(None) => {}
            // after an error the connection is closed: start over, as a new connection would
            Err(_) => reassembler = BinaryReassembler::new(),
        }
    }
}

#[cfg(test)]
mod regressions {
    //! Every input kept under `fuzz/regressions/<target>/` (crashes found by fuzzing, and seeds) is
    //! replayed on each `cargo test`.
    use super::TARGETS;
    use std::path::Path;

    #[test]
    fn fuzz_regression_inputs_replay_cleanly() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
        let mut replayed = 0;
        for (name, target) in TARGETS {
            let Ok(entries) = std::fs::read_dir(root.join(name)) else { continue };
            for entry in entries.flatten() {
                let bytes = std::fs::read(entry.path()).expect("readable regression input");
                target(&bytes);
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no regression inputs under {}", root.display());
    }
}
