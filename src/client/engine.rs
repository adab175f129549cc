//! One Engine.IO v4 connection (over WebSocket or long-polling, see `transport::Transport`): the handshake, pongs, the heartbeat deadline, binary
//! reassembly, and a writer task so that a stalled peer can never block the state machine.
//!
//! Receiving: frames are drained in batches (every frame the socket has ready, up to a bound) and
//! reading stops while the connection's [`ReceiveGate`] is full. Sending: packets wait in a write
//! queue whose bytes count in the [`SendGate`]; what the writer never took from it is handed back to
//! the manager when the connection dies ([`EngineConnection::take_unsent`]).

use super::clock;
use super::flow::{ReceiveGate, SendGate};
use super::stats::ConnectionStats;
use crate::protocol::{BinaryReassembler, EnginePacket, Handshake, Packet};
use crate::transport::{self, Message, TlsConfig, Transport, TransportError, TransportPlan, TransportState};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use url::Url;

/// Frames read in one batch at most before the manager gets a turn.
const MAX_BATCH_FRAMES: usize = 512;
/// Bytes the writer takes from its queue per flush: what a dying connection may lose (at most once)
/// beyond the socket's own buffers.
const MAX_WRITE_BATCH_BYTES: usize = 64 << 10;

/// Where and how to open the transport.
#[derive(Debug)]
pub struct EngineTarget {
    /// The client's URL first, then the `failoverUrls`; never empty.
    pub endpoints: Vec<EngineEndpoint>,
    /// The endpoint the next attempt goes to (the manager task moves it after a failed attempt).
    pub current: std::sync::atomic::AtomicUsize,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// `transports`, `upgrade`, `rememberUpgrade`, `tryAllTransports`.
    pub plan: TransportPlan,
    /// The transport in use, shared with the client (`realtime_transport_name`).
    pub state: Arc<TransportState>,
}

/// One server of the cluster: its Engine.IO URL, TLS (for `wss`) and proxy (the `proxy` option, or the
/// environment's for its host).
#[derive(Debug)]
pub struct EngineEndpoint {
    pub url: Url,
    pub tls: Option<TlsConfig>,
    pub proxy: Option<transport::Proxy>,
}

impl EngineTarget {
    /// The endpoint the next attempt goes to.
    pub fn endpoint(&self) -> &EngineEndpoint {
        let index = self.current.load(std::sync::atomic::Ordering::Relaxed);
        &self.endpoints[index % self.endpoints.len()]
    }

    /// After a failed attempt: the next endpoint (round robin); whether there was another one.
    pub fn fail_over(&self) -> bool {
        if self.endpoints.len() < 2 {
            return false;
        }
        let next = (self.current.load(std::sync::atomic::Ordering::Relaxed) + 1) % self.endpoints.len();
        self.current.store(next, std::sync::atomic::Ordering::Relaxed);
        true
    }

    /// `scheme://host:port` of the current endpoint (no user-info, path or query): for stats. The
    /// scheme is the transport's: `http`/`https` on polling (the open connection's, else the first one
    /// the plan tries), `ws`/`wss` on a WebSocket.
    pub fn current_origin(&self) -> String {
        let origin = self.endpoint().url.origin().ascii_serialization();
        let kind = self.state.active().or_else(|| self.plan.transports.first().copied());
        if kind != Some(transport::TransportKind::Polling) {
            return origin;
        }
        match (origin.strip_prefix("wss://"), origin.strip_prefix("ws://")) {
            (Some(rest), _) => format!("https://{rest}"),
            (None, Some(rest)) => format!("http://{rest}"),
            (None, None) => origin,
        }
    }
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

/// The gates a connection obeys; one pair per manager, shared by its successive connections.
#[derive(Debug, Clone)]
pub struct ConnectionGates {
    pub receive: Arc<ReceiveGate>,
    pub send: Arc<SendGate>,
    /// The connection's live counters (realtime_stats_json).
    pub stats: Arc<ConnectionStats>,
}

/// An open Engine.IO connection.
pub struct EngineConnection {
    pub handshake: Handshake,
    reader: SplitStream<Transport>,
    writer: Arc<WriteQueue>,
    writer_failed: oneshot::Receiver<()>,
    /// On CLOCK_BOOTTIME (counts through device sleep); `heartbeat` is a tokio timer at the same
    /// instant, reset per ping (and extended lazily from `last_frame_ms`, never re-armed per event),
    /// re-checked when the device resumes.
    heartbeat_deadline_ms: u64,
    /// When the last batch of frames arrived (BOOTTIME ms): any frame proves the peer alive, so the
    /// deadline is extended lazily from it when the timer fires (no timer re-armed per frame).
    last_frame_ms: u64,
    heartbeat: Pin<Box<tokio::time::Sleep>>,
    reassembler: BinaryReassembler,
    gate: Arc<ReceiveGate>,
    stats: Arc<ConnectionStats>,
    /// A close seen after some packets of a batch: reported by the next call.
    pending_close: Option<&'static str>,
}

impl EngineConnection {
    /// Opens the WebSocket and waits for the Engine.IO handshake, all within `target.timeout`.
    pub async fn open(target: &EngineTarget, gates: ConnectionGates) -> Result<Self, OpenFailure> {
        match tokio::time::timeout(target.timeout, Self::open_inner(target, gates)).await {
            Ok(result) => result,
            Err(_) => Err(OpenFailure {
                message: format!("timeout: no handshake within {} ms", target.timeout.as_millis()),
                data: Value::Null,
            }),
        }
    }

    async fn open_inner(target: &EngineTarget, gates: ConnectionGates) -> Result<Self, OpenFailure> {
        let endpoint = target.endpoint();
        let transport_target = transport::TransportTarget {
            url: &endpoint.url,
            headers: &target.headers,
            tls: endpoint.tls.as_ref(),
            proxy: endpoint.proxy.as_ref(),
            plan: &target.plan,
            probe_timeout: target.timeout,
        };
        let ws = transport::open(&transport_target, &target.state).await?;
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
        let writer = Arc::new(WriteQueue::new(gates.send, Arc::clone(&gates.stats)));
        let (failed_tx, writer_failed) = oneshot::channel();
        tokio::spawn(write_loop(sink, Arc::clone(&writer), failed_tx));
        let window = heartbeat_window_ms(&handshake);
        Ok(Self {
            handshake,
            reader,
            writer,
            writer_failed,
            heartbeat_deadline_ms: clock::now_ms().saturating_add(window),
            last_frame_ms: 0,
            heartbeat: Box::pin(tokio::time::sleep(Duration::from_millis(window))),
            reassembler: BinaryReassembler::new(),
            gate: gates.receive,
            stats: gates.stats,
            pending_close: None,
        })
    }

    /// Queues a Socket.IO packet (its text frame, then one binary frame per attachment, moved, not
    /// copied). `requeue`: handed back by [`Self::take_unsent`] if the writer never took it.
    pub fn send_packet(&self, packet: Packet, requeue: bool) {
        self.writer.push(Outgoing::Packet { charge: packet_cost(&packet), packet, requeue });
    }

    /// Takes back what the writer never took from its queue (in order), keeping the packets that
    /// asked for it (emits, which go back to the offline buffer). The rest (pongs, CONNECTs, ack
    /// answers for this connection) is dropped. The writer stops once its current batch is written.
    pub fn take_unsent(&self) -> Vec<Packet> {
        self.writer.take_unsent()
    }

    /// Sets the heartbeat deadline `window` from now (a ping arrived, or reading resumed).
    fn rearm_heartbeat(&mut self) {
        let window = heartbeat_window_ms(&self.handshake);
        self.heartbeat_deadline_ms = clock::now_ms().saturating_add(window);
        self.heartbeat.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(window));
    }

    /// Waits for the next packets, drained in one batch into `out` (every frame ready on the socket,
    /// up to a bound, stopping early when the receive gate fills); `Err` is the end of the connection
    /// with its socket.io-client reason (packets read before it are in `out` first, and the reason
    /// comes on the next call). Cancel-safe: it awaits only while `out` has nothing new.
    pub async fn next_batch(&mut self, out: &mut Vec<Packet>) -> Result<(), &'static str> {
        if let Some(reason) = self.pending_close {
            return Err(reason);
        }
        let start = out.len();
        loop {
            // Stop reading while the consumers are behind: TCP backpressure to the server. The
            // pause is ours, so the heartbeat deadline restarts when reading does (what the server
            // thinks of our silence is its own timeout).
            if self.gate.is_full() {
                log::debug!("reading paused: the callbacks are behind (maxQueuedEvents / maxQueuedBytes reached)");
                let gate = Arc::clone(&self.gate);
                tokio::select! {
                    _ = gate.wait_open() => {}
                    _ = &mut self.writer_failed => return Err("transport error"),
                }
                self.rearm_heartbeat();
                log::debug!("reading resumed");
            }
            let frame = tokio::select! {
                frame = self.reader.next() => frame,
                _ = &mut self.heartbeat => {
                    self.check_heartbeat()?;
                    continue;
                }
                _ = clock::resumed() => {
                    self.check_heartbeat()?;
                    continue;
                }
                _ = &mut self.writer_failed => return Err("transport error"),
            };
            let mut frame = frame;
            let mut frames = 0;
            let mut bytes = 0;
            loop {
                bytes += match &frame {
                    Some(Ok(message)) => message.len(),
                    _ => 0,
                };
                if let Err(reason) = self.on_frame(frame, out) {
                    if out.len() > start {
                        self.pending_close = Some(reason);
                        return Ok(());
                    }
                    return Err(reason);
                }
                frames += 1;
                if frames >= MAX_BATCH_FRAMES || self.gate.is_full() {
                    break;
                }
                match self.reader.next().now_or_never() {
                    Some(next) => frame = next,
                    None => break,
                }
            }
            self.last_frame_ms = clock::now_ms();
            self.stats.received(out.len() - start, frames, bytes);
            if out.len() > start {
                return Ok(());
            }
        }
    }

    /// The timer fired (or the device resumed): closed if the BOOTTIME deadline passed, else re-armed
    /// for what is left.
    /// A peer whose pings are queued behind a flood of data is alive: the deadline counts from the
    /// last frame as well as from the last ping (engine.io-client counts pings only, and drops a
    /// connection that is busy delivering).
    fn check_heartbeat(&mut self) -> Result<(), &'static str> {
        let now = clock::now_ms();
        let from_data = self.last_frame_ms.saturating_add(heartbeat_window_ms(&self.handshake));
        self.heartbeat_deadline_ms = self.heartbeat_deadline_ms.max(from_data);
        if now >= self.heartbeat_deadline_ms {
            return Err("ping timeout");
        }
        let left = Duration::from_millis(self.heartbeat_deadline_ms - now);
        self.heartbeat.as_mut().reset(tokio::time::Instant::now() + left);
        Ok(())
    }

    /// One frame: a complete packet goes to `out`; pings are answered here.
    fn on_frame(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
        out: &mut Vec<Packet>,
    ) -> Result<(), &'static str> {
        let decoded = match frame {
            Some(Ok(Message::Text(text))) => match text.as_bytes().first() {
                // The hot path: a message frame goes to the decoder without an Engine.IO copy.
                Some(b'4') => self.reassembler.feed_text(&text[1..]),
                _ => match EnginePacket::decode_text(&text) {
                    Ok(EnginePacket::Ping(data)) => {
                        self.rearm_heartbeat();
                        let pong = EnginePacket::Pong(data).encode_text().unwrap_or_default();
                        self.writer.push(Outgoing::Frame(Message::text(pong)));
                        return Ok(());
                    }
                    Ok(EnginePacket::Close) => return Err("transport close"),
                    Ok(_) => return Ok(()),
                    // engine.io-parser turns an unknown (or empty) packet into an error packet, which
                    // engine.io-client handles as a transport error; "parse error" is Socket.IO's.
                    Err(_) => return Err("transport error"),
                },
            },
            Some(Ok(Message::Binary(bytes))) => self.reassembler.feed_binary(bytes.into()),
            Some(Ok(Message::Close(_))) | None => return Err("transport close"),
            Some(Ok(_)) => return Ok(()),
            Some(Err(err)) => return Err(classify_read_error(&err)),
        };
        match decoded {
            Ok(Some(packet)) => {
                out.push(packet);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(_) => Err("parse error"),
        }
    }
}

impl Drop for EngineConnection {
    fn drop(&mut self) {
        // The writer flushes what is queued (a DISCONNECT), then closes.
        self.writer.close();
    }
}

/// What a packet weighs in the send gate: its text and attachments, plus framing.
fn packet_cost(packet: &Packet) -> usize {
    16 + packet.nsp.len()
        + packet.data.as_ref().map_or(0, String::len)
        + packet.attachments.iter().map(Vec::len).sum::<usize>()
}

enum Outgoing {
    Packet { packet: Packet, charge: usize, requeue: bool },
    Frame(Message),
}

impl Outgoing {
    fn charge(&self) -> usize {
        match self {
            Outgoing::Packet { charge, .. } => *charge,
            Outgoing::Frame(_) => 0,
        }
    }
}

/// The writer's queue: the manager pushes, the write loop takes batches. A plain deque (nothing
/// allocated while idle) so that a dead connection's unsent packets can be taken back.
struct WriteQueue {
    state: Mutex<WriteState>,
    wake: Notify,
    gate: Arc<SendGate>,
    stats: Arc<ConnectionStats>,
}

#[derive(Default)]
struct WriteState {
    items: VecDeque<Outgoing>,
    closing: bool,
}

impl WriteQueue {
    fn new(gate: Arc<SendGate>, stats: Arc<ConnectionStats>) -> Self {
        Self { state: Mutex::new(WriteState::default()), wake: Notify::new(), gate, stats }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WriteState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, item: Outgoing) {
        self.gate.charge(item.charge());
        let was_empty = {
            let mut state = self.lock();
            let was_empty = state.items.is_empty();
            state.items.push_back(item);
            was_empty
        };
        if was_empty {
            self.wake.notify_one();
        }
    }

    fn close(&self) {
        self.lock().closing = true;
        self.wake.notify_one();
    }

    fn take_unsent(&self) -> Vec<Packet> {
        let items = {
            let mut state = self.lock();
            state.closing = true;
            std::mem::take(&mut state.items)
        };
        self.wake.notify_one();
        let mut unsent = Vec::new();
        for item in items {
            self.gate.release(item.charge());
            if let Outgoing::Packet { packet, requeue: true, .. } = item {
                unsent.push(packet);
            }
        }
        unsent
    }

    /// Waits for queued items and moves a batch of them into `batch`; returns false once the queue
    /// is closing and empty.
    async fn take_batch(&self, batch: &mut Vec<Outgoing>) -> bool {
        loop {
            {
                let mut state = self.lock();
                let mut bytes = 0;
                while let Some(item) = state.items.pop_front() {
                    bytes += item.charge();
                    batch.push(item);
                    if bytes >= MAX_WRITE_BATCH_BYTES {
                        break;
                    }
                }
                if !batch.is_empty() {
                    return true;
                }
                if state.closing {
                    return false;
                }
            }
            self.wake.notified().await;
        }
    }
}

impl Drop for WriteQueue {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.gate.release(state.items.iter().map(Outgoing::charge).sum());
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

/// Sends queued frames in order, a batch per flush; the batch's bytes leave the send gate once it
/// is flushed (handed to the OS). When the connection is dropped, sends what is left, then a close
/// frame, waiting at most `CLOSE_GRACE`.
async fn write_loop(mut sink: SplitSink<Transport, Message>, queue: Arc<WriteQueue>, failed: oneshot::Sender<()>) {
    let mut batch = Vec::new();
    while queue.take_batch(&mut batch).await {
        let mut charge = 0;
        let packets = batch.len();
        let mut result = Ok(());
        for item in batch.drain(..) {
            charge += item.charge();
            if result.is_err() {
                continue;
            }
            match item {
                Outgoing::Frame(message) => result = sink.feed(message).await,
                Outgoing::Packet { packet, .. } => {
                    let mut text = String::with_capacity(charge.min(1 << 20));
                    text.push('4');
                    packet.encode_into(&mut text);
                    result = sink.feed(Message::text(text)).await;
                    for attachment in packet.attachments {
                        if result.is_ok() {
                            result = sink.feed(Message::binary(attachment)).await;
                        }
                    }
                }
            }
        }
        if result.is_ok() {
            result = sink.flush().await;
        }
        queue.gate.release(charge);
        queue.stats.sent(packets, charge);
        if result.is_err() {
            let _ = failed.send(());
            return;
        }
    }
    let _ = tokio::time::timeout(transport::CLOSE_GRACE, sink.close()).await;
}
