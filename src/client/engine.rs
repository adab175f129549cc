//! One Engine.IO v4 connection over WebSocket: the handshake, pongs, the heartbeat deadline, binary
//! reassembly, and a writer task so that a stalled peer can never block the state machine.

use super::clock;
use crate::protocol::{BinaryReassembler, EnginePacket, Handshake, Packet};
use crate::transport::{self, Message, TlsConfig, TransportError, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use url::Url;

/// Where and how to open the transport.
#[derive(Debug)]
pub struct EngineTarget {
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub tls: Option<TlsConfig>,
    pub timeout: Duration,
    /// The `proxy` option: tunnel through it.
    pub proxy: Option<transport::Proxy>,
}

/// Why an attempt to open failed: `connect_error`'s message and data.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenFailure {
    pub message: String,
    pub data: Value,
}

/// `data` is what the server said, or null: only an HTTP refusal of the upgrade carries something.
impl From<TransportError> for OpenFailure {
    fn from(err: TransportError) -> Self {
        let data = match &err {
            TransportError::Http { status, body } => {
                let body = serde_json::from_str::<Value>(body).unwrap_or_else(|_| Value::String(body.clone()));
                json!({ "status": status, "body": body })
            }
            other => other.data().unwrap_or(Value::Null),
        };
        OpenFailure { message: err.to_string(), data }
    }
}

/// What the open connection reports to the manager.
#[derive(Debug)]
pub enum EngineEvent {
    /// A complete Socket.IO packet (binary attachments collected).
    Packet(Packet),
    /// The connection is gone; the reason is a socket.io-client disconnect reason.
    Closed(&'static str),
}

/// An open Engine.IO connection.
pub struct EngineConnection {
    pub handshake: Handshake,
    reader: SplitStream<WebSocket>,
    writer: mpsc::UnboundedSender<Message>,
    writer_failed: oneshot::Receiver<()>,
    heartbeat_deadline_ms: u64,
    reassembler: BinaryReassembler,
}

impl EngineConnection {
    /// Opens the WebSocket and waits for the Engine.IO handshake, all within `target.timeout`.
    pub async fn open(target: &EngineTarget) -> Result<Self, OpenFailure> {
        match tokio::time::timeout(target.timeout, Self::open_inner(target)).await {
            Ok(result) => result,
            Err(_) => Err(OpenFailure {
                message: format!("timeout: no handshake within {} ms", target.timeout.as_millis()),
                data: Value::Null,
            }),
        }
    }

    async fn open_inner(target: &EngineTarget) -> Result<Self, OpenFailure> {
        let ws = transport::connect(&target.url, &target.headers, target.tls.as_ref(), target.proxy.as_ref()).await?;
        let (sink, mut reader) = ws.split();
        let handshake = loop {
            let failure = |message: String| OpenFailure { message, data: Value::Null };
            match reader.next().await {
                Some(Ok(Message::Text(text))) => match EnginePacket::decode_text(&text) {
                    Ok(EnginePacket::Open(handshake)) => break handshake,
                    Ok(other) => return Err(failure(format!("expected the Engine.IO handshake, got {other:?}"))),
                    Err(e) => return Err(failure(format!("invalid Engine.IO handshake: {e}"))),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => {
                    return Err(failure("the server closed the connection during the handshake".to_owned()))
                }
                Some(Ok(_)) => return Err(failure("expected the Engine.IO handshake, got a binary frame".to_owned())),
                Some(Err(e)) => return Err(failure(format!("transport error during the handshake: {e}"))),
            }
        };
        let (writer, writer_rx) = mpsc::unbounded_channel();
        let (failed_tx, writer_failed) = oneshot::channel();
        tokio::spawn(write_loop(sink, writer_rx, failed_tx));
        let heartbeat_deadline_ms = clock::now_ms().saturating_add(heartbeat_window_ms(&handshake));
        Ok(Self {
            handshake,
            reader,
            writer,
            writer_failed,
            heartbeat_deadline_ms,
            reassembler: BinaryReassembler::new(),
        })
    }

    /// Queues a Socket.IO packet: its text frame, then one binary frame per attachment.
    pub fn send_packet(&self, packet: &Packet) {
        let text = EnginePacket::Message(packet.encode()).encode_text().unwrap_or_default();
        let _ = self.writer.send(Message::text(text));
        for attachment in &packet.attachments {
            let _ = self.writer.send(Message::binary(attachment.clone()));
        }
    }

    /// Waits for the next packet or for the end of the connection. Cancel-safe.
    pub async fn next_event(&mut self) -> EngineEvent {
        loop {
            let frame = tokio::select! {
                frame = self.reader.next() => frame,
                _ = clock::sleep_until_ms(self.heartbeat_deadline_ms) => return EngineEvent::Closed("ping timeout"),
                _ = &mut self.writer_failed => return EngineEvent::Closed("transport error"),
            };
            let decoded = match frame {
                Some(Ok(Message::Text(text))) => match EnginePacket::decode_text(&text) {
                    Ok(EnginePacket::Ping(data)) => {
                        self.heartbeat_deadline_ms =
                            clock::now_ms().saturating_add(heartbeat_window_ms(&self.handshake));
                        let pong = EnginePacket::Pong(data).encode_text().unwrap_or_default();
                        let _ = self.writer.send(Message::text(pong));
                        continue;
                    }
                    Ok(EnginePacket::Message(text)) => self.reassembler.feed_text(&text),
                    Ok(EnginePacket::Close) => return EngineEvent::Closed("transport close"),
                    Ok(_) => continue,
                    // engine.io-parser turns an unknown (or empty) packet into an error packet, which
                    // engine.io-client handles as a transport error; "parse error" is Socket.IO's.
                    Err(_) => return EngineEvent::Closed("transport error"),
                },
                Some(Ok(Message::Binary(bytes))) => self.reassembler.feed_binary(bytes.to_vec()),
                Some(Ok(Message::Close(_))) | None => return EngineEvent::Closed("transport close"),
                Some(Ok(_)) => continue,
                Some(Err(err)) => return EngineEvent::Closed(classify_read_error(&err)),
            };
            match decoded {
                Ok(Some(packet)) => return EngineEvent::Packet(packet),
                Ok(None) => continue,
                Err(_) => return EngineEvent::Closed("parse error"),
            }
        }
    }
}

/// The client's heartbeat window: a ping must arrive within `pingInterval + pingTimeout`.
fn heartbeat_window_ms(handshake: &Handshake) -> u64 {
    handshake.ping_interval_ms.saturating_add(handshake.ping_timeout_ms)
}

/// A peer that vanished (reset, EOF without a close frame) is a `transport close`, like a browser's
/// WebSocket reporting code 1006; anything else the WebSocket layer rejects is a `transport error`.
fn classify_read_error(err: &tokio_tungstenite::tungstenite::Error) -> &'static str {
    use tokio_tungstenite::tungstenite::error::ProtocolError as WsProtocolError;
    use tokio_tungstenite::tungstenite::Error as WsError;
    match err {
        WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_) => "transport close",
        WsError::Protocol(WsProtocolError::ResetWithoutClosingHandshake) => "transport close",
        _ => "transport error",
    }
}

/// Sends queued frames in order; batches what is queued before flushing. When the connection is
/// dropped (the sender side closes), sends a close frame, waiting at most `CLOSE_GRACE`.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut queue: mpsc::UnboundedReceiver<Message>,
    failed: oneshot::Sender<()>,
) {
    while let Some(first) = queue.recv().await {
        let mut result = sink.feed(first).await;
        while result.is_ok() {
            match queue.try_recv() {
                Ok(next) => result = sink.feed(next).await,
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = sink.flush().await;
        }
        if result.is_err() {
            let _ = failed.send(());
            return;
        }
    }
    let _ = tokio::time::timeout(transport::CLOSE_GRACE, sink.close()).await;
}
