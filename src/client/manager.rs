//! The manager: one async task per Engine.IO connection, shared by the sockets (namespaces) of one
//! client. It owns the connection state machine — connect, heartbeat, reconnect with backoff — and
//! the protocol side of every socket. Nothing else touches that state, so there are no locks on it.
//!
//! States: `Idle` (nothing under way), `Connecting` (one attempt in flight), `Open`, `Waiting` (for
//! the backoff delay). At most one attempt is ever in flight, and a fresh connection is made for each.

use super::engine::{ConnectionGates, EngineConnection, EngineTarget, OpenFailure};
use super::event::{AckOutcome, Event};
use super::namespace::{ChannelCommand, EmitCommand, SocketConfig, SocketSlot};
use super::socket::SocketShared;
use super::stats::LinkState;
use crate::protocol::{Packet, PacketType, ReconnectBackoff};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Reconnection settings of one manager.
#[derive(Debug, Clone)]
pub struct ReconnectPolicy {
    pub enabled: bool,
    pub attempts: Option<u32>,
    pub delay: Duration,
    pub delay_max: Duration,
    pub randomization_factor: f64,
}

/// What sockets ask of the manager task. Generations let the task drop work a later call superseded.
pub enum Command {
    Attach {
        key: u64,
        config: SocketConfig,
        shared: Arc<SocketShared>,
    },
    Open {
        key: u64,
        generation: u64,
    },
    Close {
        key: u64,
        generation: u64,
    },
    Detach {
        key: u64,
    },
    Emit {
        key: u64,
        emit: EmitCommand,
    },
    AnswerAck {
        key: u64,
        server_id: u64,
        epoch: u64,
        args: String,
        attachments: Vec<Vec<u8>>,
    },
    Channel {
        key: u64,
        command: ChannelCommand,
    },
    /// Sets (or, with `None`, removes) the socket's auth provider.
    AuthProvider {
        key: u64,
        provider: Option<AuthProvider>,
        timeout: Duration,
    },
    /// The application's answer to auth request `request`: the auth object, or `None` to decline.
    AuthReply {
        key: u64,
        request: u64,
        auth: Option<serde_json::Map<String, Value>>,
    },
    /// The network changed or the app came back to the foreground: the connection may be dead
    /// without either side knowing. Drop it and connect again now, skipping the backoff delay.
    ReconnectNow,
}

/// Asked for a fresh `auth` object before each CONNECT of its socket (socket.io-client's `auth` as a
/// function): called with a request id on the socket's event queue (never on an IO thread); the
/// answer comes back as `Command::AuthReply` with that id, at once or later, from any thread.
pub type AuthProvider = Arc<dyn Fn(u64) + Send + Sync>;

/// A socket's auth provider and the request it is waiting for, if any.
struct AuthSlot {
    provider: AuthProvider,
    timeout: Duration,
    /// The request asked on the current connection, and when it times out.
    pending: Option<(u64, Instant)>,
}

type OpenFuture = Pin<Box<dyn Future<Output = Result<EngineConnection, OpenFailure>> + Send>>;

enum Phase {
    Idle,
    Connecting(OpenFuture),
    Open(Box<EngineConnection>),
    Waiting(Instant),
}

enum Step {
    Command(Command),
    Shutdown,
    Opened(Result<EngineConnection, OpenFailure>),
    /// A batch of packets arrived (in the task's `incoming`), or the connection ended.
    Engine(Result<(), &'static str>),
    RetryNow,
    AckTimers,
}

pub struct ManagerTask {
    target: Arc<EngineTarget>,
    policy: ReconnectPolicy,
    /// Boxed: the channel allocates its slots in blocks of 32, so a small element keeps an idle
    /// client's block at 256 bytes instead of 4.6 KiB.
    commands: mpsc::UnboundedReceiver<Box<Command>>,
    /// Boxed: a B-tree leaf holds 11 values, 5.7 KiB of inline slots for the usual single namespace.
    slots: BTreeMap<u64, Box<SocketSlot>>,
    phase: Phase,
    backoff: ReconnectBackoff,
    reconnecting: bool,
    skip_reconnect: bool,
    gates: ConnectionGates,
    /// The earliest ack deadline of every socket, armed once per change (not per loop pass).
    ack_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    ack_armed: Option<Instant>,
    /// Packets of the batch being handled (kept for its capacity).
    incoming: Vec<Packet>,
    auth: BTreeMap<u64, AuthSlot>,
    next_auth_request: u64,
    /// Namespaces freed while their CONNECT was in flight on the current connection: the reply is
    /// answered by a DISCONNECT (else the server keeps the socket, and a second CONNECT for it would
    /// make the server close the whole connection). A re-created socket of that namespace sends its
    /// CONNECT only after that, and after [`TOMBSTONE_SETTLE`] (the value: when it may).
    tombstones: BTreeMap<String, Option<Instant>>,
}

impl ManagerTask {
    pub fn new(
        target: Arc<EngineTarget>,
        policy: ReconnectPolicy,
        commands: mpsc::UnboundedReceiver<Box<Command>>,
        gates: ConnectionGates,
    ) -> Self {
        let backoff = ReconnectBackoff::new(
            policy.delay.as_millis() as u64,
            policy.delay_max.as_millis() as u64,
            policy.randomization_factor,
        );
        Self {
            target,
            policy,
            commands,
            slots: BTreeMap::new(),
            phase: Phase::Idle,
            backoff,
            reconnecting: false,
            skip_reconnect: false,
            tombstones: BTreeMap::new(),
            auth: BTreeMap::new(),
            next_auth_request: 1,
            gates,
            ack_timer: None,
            ack_armed: None,
            incoming: Vec::new(),
        }
    }

    /// Arms the ack timer for the earliest deadline (O(log n) per socket), if that changed.
    fn arm_ack_timer(&mut self) {
        let auth_deadline = self.auth.values().filter_map(|auth| auth.pending.map(|(_, deadline)| deadline)).min();
        let tombstone_deadline = self.tombstones.values().flatten().copied().min();
        let next = self
            .slots
            .values()
            .filter_map(|slot| slot.next_deadline())
            .chain(auth_deadline)
            .chain(tombstone_deadline)
            .min();
        if next != self.ack_armed {
            match (next, &mut self.ack_timer) {
                (Some(deadline), Some(timer)) => timer.as_mut().reset(deadline),
                // Allocated on the first ack with a deadline: an idle client holds no timer.
                (Some(deadline), None) => self.ack_timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                (None, _) => {}
            }
            self.ack_armed = next;
        }
    }

    pub async fn run(mut self) {
        loop {
            self.arm_ack_timer();
            let armed = self.ack_armed.is_some();
            let commands = &mut self.commands;
            let ack_timer = wait_timer(self.ack_timer.as_mut().map(|timer| timer.as_mut()));
            let incoming = &mut self.incoming;
            let step = match &mut self.phase {
                Phase::Idle => tokio::select! {
                    command = commands.recv() => command.map_or(Step::Shutdown, |command| Step::Command(*command)),
                    _ = ack_timer, if armed => Step::AckTimers,
                },
                Phase::Connecting(attempt) => tokio::select! {
                    command = commands.recv() => command.map_or(Step::Shutdown, |command| Step::Command(*command)),
                    result = attempt => Step::Opened(result),
                    _ = ack_timer, if armed => Step::AckTimers,
                },
                Phase::Open(connection) => tokio::select! {
                    command = commands.recv() => command.map_or(Step::Shutdown, |command| Step::Command(*command)),
                    result = connection.next_batch(incoming) => Step::Engine(result),
                    _ = ack_timer, if armed => Step::AckTimers,
                },
                Phase::Waiting(deadline) => tokio::select! {
                    command = commands.recv() => command.map_or(Step::Shutdown, |command| Step::Command(*command)),
                    _ = tokio::time::sleep_until(*deadline) => Step::RetryNow,
                    _ = ack_timer, if armed => Step::AckTimers,
                },
            };
            match step {
                Step::Command(command) => self.on_command(command),
                Step::Shutdown => {
                    self.slots.clear();
                    self.stop_engine();
                    return;
                }
                Step::Opened(Ok(connection)) => self.on_open(connection),
                Step::Opened(Err(failure)) => self.on_open_failed(failure),
                Step::Engine(result) => {
                    let mut incoming = std::mem::take(&mut self.incoming);
                    for packet in incoming.drain(..) {
                        self.on_packet(packet);
                    }
                    self.incoming = incoming;
                    if let Err(reason) = result {
                        self.on_close(reason);
                    }
                }
                Step::RetryNow => self.on_retry(),
                Step::AckTimers => {
                    // Fired: re-armed on the next pass whatever the next deadline is.
                    self.ack_armed = None;
                    let now = Instant::now();
                    self.follow_tombstones(now);
                    let connection = connection_of(&self.phase);
                    for slot in self.slots.values_mut() {
                        slot.expire_acks(now, connection);
                    }
                    self.expire_auth_requests(now);
                }
            }
            self.gates.stats.set_state(match self.phase {
                Phase::Idle => LinkState::Idle,
                Phase::Connecting(_) => LinkState::Connecting,
                Phase::Open(_) => LinkState::Connected,
                Phase::Waiting(_) => LinkState::Waiting,
            });
            // What this pass produced goes to the consumers in one batch per socket.
            for slot in self.slots.values_mut() {
                slot.flush();
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Attach { key, config, shared } => {
                self.slots.insert(key, Box::new(SocketSlot::new(config, shared, Arc::clone(&self.gates.receive))));
            }
            Command::Open { key, generation } => {
                // Older than what the task applied (the server ended the socket since): superseded.
                let Some(slot) = self.slots.get_mut(&key).filter(|slot| generation >= slot.generation) else {
                    return;
                };
                slot.generation = generation;
                slot.active = true;
                match &self.phase {
                    Phase::Open(_) => self.send_connect(key),
                    Phase::Idle => self.start_open(),
                    // An attempt is under way or scheduled: the socket joins when it opens.
                    Phase::Connecting(_) | Phase::Waiting(_) => {}
                }
            }
            Command::Close { key, generation } => {
                // Older than what the task applied (the server ended the socket since): superseded.
                let Some(slot) = self.slots.get_mut(&key).filter(|slot| generation >= slot.generation) else {
                    return;
                };
                slot.generation = generation;
                self.deactivate(key);
                self.close_engine_if_unused();
            }
            Command::Detach { key } => {
                self.auth.remove(&key);
                if let (Some(slot), Phase::Open(_)) = (self.slots.get(&key), &self.phase) {
                    if slot.connect_sent && !slot.connected {
                        self.tombstones.insert(slot.config.nsp.clone(), None);
                    }
                }
                self.deactivate(key);
                self.slots.remove(&key);
                self.close_engine_if_unused();
            }
            Command::Emit { key, emit } => {
                // The application's reservation ends here; the write queue counts what it queues.
                self.gates.send.release(emit.reserved);
                let connection = connection_of(&self.phase);
                if let Some(slot) = self.slots.get_mut(&key) {
                    slot.emit(emit, connection);
                }
            }
            Command::AnswerAck { key, server_id, epoch, args, attachments } => {
                let connection = connection_of(&self.phase);
                if let Some(slot) = self.slots.get_mut(&key) {
                    slot.answer_ack(server_id, epoch, args, attachments, connection);
                }
            }
            Command::ReconnectNow => self.reconnect_now(),
            Command::AuthProvider { key, provider, timeout } => match provider {
                Some(provider) => {
                    self.auth.insert(key, AuthSlot { provider, timeout, pending: None });
                }
                None => {
                    self.auth.remove(&key);
                }
            },
            Command::AuthReply { key, request, auth } => self.on_auth_reply(key, request, auth),
            Command::Channel { key, command } => {
                let connection = connection_of(&self.phase);
                if let Some(slot) = self.slots.get_mut(&key) {
                    slot.channel(command, connection);
                }
            }
        }
    }

    /// The application closed the socket: leave the namespace if the server had accepted it.
    fn deactivate(&mut self, key: u64) {
        let connection = connection_of(&self.phase);
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        slot.active = false;
        if slot.connected {
            if let Some(connection) = connection {
                connection.send_packet(Packet::disconnect(&slot.config.nsp), false);
            }
            slot.on_disconnected();
        }
    }

    /// socket.io-client's `Manager._close`: with no active socket left, the connection has no purpose.
    fn close_engine_if_unused(&mut self) {
        if self.slots.values().any(|slot| slot.active) {
            return;
        }
        self.skip_reconnect = true;
        self.stop_engine();
    }

    fn stop_engine(&mut self) {
        if matches!(self.phase, Phase::Open(_)) {
            log::info!("disconnected from {}: io client disconnect", self.target.endpoint().url);
            self.gates.stats.disconnected("io client disconnect");
        }
        self.forget_auth_requests();
        self.tombstones.clear();
        self.reconnecting = false;
        self.backoff.reset();
        for slot in self.slots.values_mut() {
            if slot.connected || slot.connect_sent {
                slot.on_disconnected();
            }
        }
        // Dropping the connection lets its writer flush what is queued (a DISCONNECT) and close.
        self.phase = Phase::Idle;
    }

    fn start_open(&mut self) {
        self.skip_reconnect = false;
        log::info!("connecting to {}", self.target.endpoint().url);
        self.phase = Phase::Connecting(self.open_attempt());
    }

    fn open_attempt(&self) -> OpenFuture {
        let target = Arc::clone(&self.target);
        let gates = self.gates.clone();
        Box::pin(async move { EngineConnection::open(&target, gates).await })
    }

    fn publish_to_active(&mut self, event: impl Fn() -> Event) {
        for slot in self.slots.values_mut().filter(|slot| slot.active) {
            slot.publish(|_| Some(event()));
        }
    }

    fn on_open(&mut self, connection: EngineConnection) {
        log::info!(
            "connected to {} over {} (pingInterval {} ms, pingTimeout {} ms, maxPayload {} bytes)",
            self.target.endpoint().url,
            self.target.state.active().map_or("no transport", |kind| kind.name()),
            connection.handshake.ping_interval_ms,
            connection.handshake.ping_timeout_ms,
            connection.handshake.max_payload
        );
        self.tombstones.clear();
        self.gates.stats.connects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.reconnecting {
            self.gates.stats.reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.phase = Phase::Open(Box::new(connection));
        let keys: Vec<u64> = self.slots.iter().filter(|(_, s)| s.active).map(|(k, _)| *k).collect();
        for key in keys {
            self.send_connect(key);
        }
        if self.reconnecting {
            let attempts = self.backoff.attempts();
            self.reconnecting = false;
            self.backoff.reset();
            self.publish_to_active(|| Event::Reconnect(attempts));
        }
    }

    /// Sends the socket's CONNECT; with an auth provider, asks it first (once per connection) and
    /// sends when the answer comes.
    fn send_connect(&mut self, key: u64) {
        if !matches!(self.phase, Phase::Open(_)) {
            return;
        }
        let Some(slot) = self.slots.get(&key) else {
            return;
        };
        if slot.connect_sent || slot.connected {
            return;
        }
        let Some(auth) = self.auth.get_mut(&key) else {
            return self.send_connect_now(key);
        };
        if auth.pending.is_some() {
            return;
        }
        let request = self.next_auth_request;
        self.next_auth_request += 1;
        auth.pending = Some((request, Instant::now() + auth.timeout));
        let provider = Arc::clone(&auth.provider);
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        // Runs on the socket's event queue, in order with its other events, like an ack callback.
        slot.publish(|_| {
            Some(Event::AckResult {
                callback: Box::new(move |_| provider(request)),
                outcome: AckOutcome::Failed(String::new()),
            })
        });
    }

    fn send_connect_now(&mut self, key: u64) {
        let Phase::Open(connection) = &self.phase else {
            return;
        };
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        if slot.connect_sent || slot.connected || self.tombstones.contains_key(&slot.config.nsp) {
            return;
        }
        connection.send_packet(slot.connect_packet(), false);
        slot.connect_sent = true;
    }

    fn on_auth_reply(&mut self, key: u64, request: u64, auth: Option<serde_json::Map<String, Value>>) {
        let Some(auth_slot) = self.auth.get_mut(&key) else {
            return;
        };
        // An answer for an earlier connection (or one that timed out) is ignored.
        if auth_slot.pending.map(|(pending, _)| pending) != Some(request) {
            return;
        }
        auth_slot.pending = None;
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        match auth {
            Some(auth) => {
                slot.config.auth = Some(auth);
                if slot.active {
                    self.send_connect_now(key);
                }
            }
            None => self.auth_failed(key, "the auth provider declined to give credentials".to_owned()),
        }
    }

    /// No CONNECT without credentials: the socket ends as after a refusal (CONNECT_ERROR), until the
    /// application opens it again.
    fn auth_failed(&mut self, key: u64, message: String) {
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        if slot.active {
            slot.ended_by_server(Some(Event::Error { message, data: Value::Null }));
            self.close_engine_if_unused();
        }
    }

    fn expire_auth_requests(&mut self, now: Instant) {
        let expired: Vec<(u64, Duration)> = self
            .auth
            .iter_mut()
            .filter(|(_, auth)| auth.pending.is_some_and(|(_, deadline)| deadline <= now))
            .map(|(key, auth)| {
                auth.pending = None;
                (*key, auth.timeout)
            })
            .collect();
        for (key, timeout) in expired {
            self.auth_failed(key, format!("the auth provider did not answer within {} ms", timeout.as_millis()));
        }
    }

    /// The connection is gone: answers to the requests made for it no longer count.
    fn forget_auth_requests(&mut self) {
        for auth in self.auth.values_mut() {
            auth.pending = None;
        }
    }

    fn on_open_failed(&mut self, failure: OpenFailure) {
        log::warn!("connection attempt to {} failed: {}", self.target.endpoint().url, failure.message);
        self.gates.stats.failed_attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.target.fail_over() {
            log::info!("failing over to {}", self.target.current_origin());
        }
        self.phase = Phase::Idle;
        self.publish_to_active(|| Event::Error { message: failure.message.clone(), data: failure.data.clone() });
        self.reconnecting = false;
        self.schedule_reconnect();
    }

    /// socket.io-client's `Manager.reconnect`: count the attempt, or give up.
    fn schedule_reconnect(&mut self) {
        if !self.policy.enabled || self.skip_reconnect || self.reconnecting {
            return;
        }
        if !self.slots.values().any(|slot| slot.active) {
            return;
        }
        let limit = self.policy.attempts.unwrap_or(u32::MAX);
        if self.backoff.attempts() >= limit {
            log::warn!("giving up: {} reconnection attempts failed (reconnectionAttempts)", self.backoff.attempts());
            self.backoff.reset();
            self.phase = Phase::Idle;
            self.publish_to_active(|| Event::ReconnectFailed);
            return;
        }
        let delay = self.backoff.next_delay(rand::random::<f64>());
        log::info!("reconnect attempt {} in {} ms", self.backoff.attempts(), delay.as_millis());
        self.reconnecting = true;
        self.phase = Phase::Waiting(Instant::now() + delay);
    }

    fn reconnect_now(&mut self) {
        if !self.slots.values().any(|slot| slot.active) {
            return;
        }
        match &self.phase {
            Phase::Open(_) => {
                self.on_close("transport close");
                // With `reconnection: false` nothing was scheduled, but the application asked for a
                // new connection: make it.
                if matches!(self.phase, Phase::Idle) {
                    self.start_open();
                }
            }
            Phase::Idle => self.start_open(),
            // The attempt under way may be stuck on the old network (a blackholed address, a
            // handshake never answered) until its timeout: replace it by a fresh one now. Still one
            // attempt at a time, and the same attempt number.
            Phase::Connecting(_) => {
                log::info!("reconnect_now: the attempt under way is replaced by a fresh one");
                self.phase = Phase::Connecting(self.open_attempt());
            }
            Phase::Waiting(_) => {}
        }
        if let Phase::Waiting(deadline) = &mut self.phase {
            *deadline = Instant::now();
        }
    }

    fn on_retry(&mut self) {
        let attempt = self.backoff.attempts();
        log::info!("connecting to {} (reconnect attempt {attempt})", self.target.endpoint().url);
        self.publish_to_active(|| Event::ReconnectAttempt(attempt));
        self.phase = Phase::Connecting(self.open_attempt());
    }

    fn on_close(&mut self, reason: &'static str) {
        log::info!("disconnected from {}: {reason}", self.target.endpoint().url);
        self.gates.stats.disconnected(reason);
        // What the writer never took goes back to each socket's offline buffer, in order, before
        // the acks of what was sent fail.
        let mut unsent = match &self.phase {
            Phase::Open(connection) => connection.take_unsent(),
            _ => Vec::new(),
        };
        self.forget_auth_requests();
        self.tombstones.clear();
        self.phase = Phase::Idle;
        for slot in self.slots.values_mut() {
            if unsent.is_empty() {
                break;
            }
            let (mine, others) = unsent.into_iter().partition(|packet| packet.nsp == slot.config.nsp);
            slot.requeue_unsent(mine);
            unsent = others;
        }
        for slot in self.slots.values_mut() {
            slot.lost_connection(reason);
        }
        self.backoff.reset();
        self.schedule_reconnect();
    }

    fn on_packet(&mut self, packet: Packet) {
        log::trace!(
            "received {:?} for namespace {} ({} bytes, {} attachments)",
            packet.kind,
            packet.nsp,
            packet.data.as_ref().map_or(0, String::len),
            packet.attachments.len()
        );
        let max_payload = match &self.phase {
            Phase::Open(connection) => connection.handshake.max_payload,
            _ => return,
        };
        if self.tombstones.contains_key(packet.nsp.as_ref()) {
            self.on_tombstone_packet(packet);
            return;
        }
        let connection = connection_of(&self.phase);
        let Some(slot) = self.slots.values_mut().find(|slot| slot.config.nsp == packet.nsp) else {
            return;
        };
        match packet.kind {
            PacketType::Connect => {
                if !std::mem::take(&mut slot.connect_sent) {
                    return;
                }
                if !slot.active {
                    // Closed while the CONNECT was in flight: leave again, now that the server knows us.
                    if let Some(connection) = connection {
                        connection.send_packet(Packet::disconnect(&slot.config.nsp), false);
                    }
                    return;
                }
                // A small object the server builds ({sid, pid}): a tree is fine here.
                let data = match packet.data.as_deref().map(serde_json::from_str::<Value>) {
                    Some(Ok(Value::Object(map))) => map,
                    _ => serde_json::Map::new(),
                };
                slot.on_connect_reply(&data, connection, max_payload);
            }
            PacketType::ConnectError => {
                if slot.active {
                    let data = packet.data.as_deref().and_then(|text| serde_json::from_str(text).ok());
                    let (message, data) = connect_error_parts(data);
                    log::warn!("namespace {} refused by the server: {message}", slot.config.nsp);
                    slot.ended_by_server(Some(Event::Error { message, data }));
                } else {
                    slot.on_disconnected();
                }
                self.close_engine_if_unused();
            }
            PacketType::Disconnect => {
                log::info!("namespace {} disconnected by the server (io server disconnect)", slot.config.nsp);
                let event = slot.connected.then(|| Event::Disconnect { reason: "io server disconnect".to_owned() });
                slot.ended_by_server(event);
                self.close_engine_if_unused();
            }
            PacketType::Event | PacketType::BinaryEvent => slot.on_event(packet),
            PacketType::Ack | PacketType::BinaryAck => slot.on_ack(packet, connection),
        }
    }
}

/// Waits for the timer, or forever without one.
async fn wait_timer(timer: Option<Pin<&mut tokio::time::Sleep>>) {
    match timer {
        Some(timer) => timer.await,
        None => std::future::pending().await,
    }
}

/// How long a re-created namespace waits after the DISCONNECT that left its freed predecessor. The
/// socket.io server handles a DISCONNECT on the next tick, so a CONNECT read in the same chunk finds the
/// old socket still there and closes the whole connection; nothing in the protocol answers a
/// DISCONNECT, so a pause is the only barrier.
const TOMBSTONE_SETTLE: Duration = Duration::from_millis(150);

impl ManagerTask {
    /// A packet for a namespace freed while its CONNECT was in flight. The first reply is that
    /// CONNECT's: leave the socket the server made (after a refusal there is none), then let a
    /// re-created socket of the namespace connect. Anything else is the old socket's and is dropped
    /// (the re-created one has sent nothing yet).
    fn on_tombstone_packet(&mut self, packet: Packet) {
        if self.tombstones.get(packet.nsp.as_ref()).is_some_and(Option::is_some) {
            return;
        }
        match packet.kind {
            PacketType::Connect => {
                if let Some(connection) = connection_of(&self.phase) {
                    connection.send_packet(Packet::disconnect(&packet.nsp), false);
                }
                self.tombstones.insert(packet.nsp.into_owned(), Some(Instant::now() + TOMBSTONE_SETTLE));
            }
            PacketType::ConnectError => {
                self.tombstones.remove(packet.nsp.as_ref());
                self.connect_waiting(&packet.nsp);
            }
            _ => {}
        }
    }

    /// Ends the tombstones whose pause is over, connecting the sockets that waited for them.
    fn follow_tombstones(&mut self, now: Instant) {
        let done: Vec<String> =
            self.tombstones.iter().filter(|(_, t)| t.is_some_and(|t| t <= now)).map(|(nsp, _)| nsp.clone()).collect();
        for nsp in done {
            self.tombstones.remove(&nsp);
            self.connect_waiting(&nsp);
        }
    }

    fn connect_waiting(&mut self, nsp: &str) {
        let waiting = self.slots.iter().find(|(_, slot)| slot.active && slot.config.nsp == nsp);
        if let Some(key) = waiting.map(|(key, _)| *key) {
            self.send_connect(key);
        }
    }
}

fn connection_of(phase: &Phase) -> Option<&EngineConnection> {
    match phase {
        Phase::Open(connection) => Some(connection),
        _ => None,
    }
}

/// CONNECT_ERROR carries `{message, data?}` (or, from old servers, a plain string).
fn connect_error_parts(data: Option<Value>) -> (String, Value) {
    match data {
        Some(Value::Object(mut map)) => {
            let message = match map.remove("message") {
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => "connect error".to_owned(),
            };
            (message, map.remove("data").unwrap_or(Value::Null))
        }
        Some(Value::String(message)) => (message, Value::Null),
        _ => ("connect error".to_owned(), Value::Null),
    }
}
