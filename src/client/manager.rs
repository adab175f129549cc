//! The manager: one async task per Engine.IO connection, shared by the sockets (namespaces) of one
//! client. It owns the connection state machine — connect, heartbeat, reconnect with backoff — and
//! the protocol side of every socket. Nothing else touches that state, so there are no locks on it.
//!
//! States: `Idle` (nothing under way), `Connecting` (one attempt in flight), `Open`, `Waiting` (for
//! the backoff delay). At most one attempt is ever in flight, and a fresh connection is made for each.

use super::engine::{EngineConnection, EngineEvent, EngineTarget, OpenFailure};
use super::event::Event;
use super::namespace::{ChannelCommand, EmitCommand, SocketConfig, SocketSlot};
use super::socket::SocketShared;
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
    /// The network changed or the app came back to the foreground: the connection may be dead
    /// without either side knowing. Drop it and connect again now, skipping the backoff delay.
    ReconnectNow,
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
    Engine(EngineEvent),
    RetryNow,
    AckTimers,
}

pub struct ManagerTask {
    target: Arc<EngineTarget>,
    policy: ReconnectPolicy,
    commands: mpsc::UnboundedReceiver<Command>,
    slots: BTreeMap<u64, SocketSlot>,
    phase: Phase,
    backoff: ReconnectBackoff,
    reconnecting: bool,
    skip_reconnect: bool,
    /// Namespaces freed while their CONNECT was in flight on the current connection: the reply is
    /// answered by a DISCONNECT (else the server keeps the socket, and a second CONNECT for it would
    /// make the server close the whole connection). A re-created socket of that namespace sends its
    /// CONNECT only after that, and after [`TOMBSTONE_SETTLE`] (the value: when it may).
    tombstones: BTreeMap<String, Option<Instant>>,
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl ManagerTask {
    pub fn new(target: EngineTarget, policy: ReconnectPolicy, commands: mpsc::UnboundedReceiver<Command>) -> Self {
        let backoff = ReconnectBackoff::new(
            policy.delay.as_millis() as u64,
            policy.delay_max.as_millis() as u64,
            policy.randomization_factor,
        );
        Self {
            target: Arc::new(target),
            policy,
            commands,
            slots: BTreeMap::new(),
            phase: Phase::Idle,
            backoff,
            reconnecting: false,
            skip_reconnect: false,
            tombstones: BTreeMap::new(),
        }
    }

    pub async fn run(mut self) {
        loop {
            let ack_deadline = self.slots.values().filter_map(SocketSlot::next_deadline).min();
            let ack_deadline = self.tombstones.values().flatten().copied().chain(ack_deadline).min();
            let commands = &mut self.commands;
            let step = match &mut self.phase {
                Phase::Idle => tokio::select! {
                    command = commands.recv() => command.map_or(Step::Shutdown, Step::Command),
                    _ = sleep_until_opt(ack_deadline) => Step::AckTimers,
                },
                Phase::Connecting(attempt) => tokio::select! {
                    command = commands.recv() => command.map_or(Step::Shutdown, Step::Command),
                    result = attempt => Step::Opened(result),
                    _ = sleep_until_opt(ack_deadline) => Step::AckTimers,
                },
                Phase::Open(connection) => tokio::select! {
                    command = commands.recv() => command.map_or(Step::Shutdown, Step::Command),
                    event = connection.next_event() => Step::Engine(event),
                    _ = sleep_until_opt(ack_deadline) => Step::AckTimers,
                },
                Phase::Waiting(deadline) => tokio::select! {
                    command = commands.recv() => command.map_or(Step::Shutdown, Step::Command),
                    _ = tokio::time::sleep_until(*deadline) => Step::RetryNow,
                    _ = sleep_until_opt(ack_deadline) => Step::AckTimers,
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
                Step::Engine(EngineEvent::Packet(packet)) => self.on_packet(packet),
                Step::Engine(EngineEvent::Closed(reason)) => self.on_close(reason),
                Step::RetryNow => self.on_retry(),
                Step::AckTimers => {
                    let now = Instant::now();
                    self.follow_tombstones(now);
                    let connection = connection_of(&self.phase);
                    for slot in self.slots.values_mut() {
                        slot.expire_acks(now, connection);
                    }
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Attach { key, config, shared } => {
                self.slots.insert(key, SocketSlot::new(config, shared));
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
                connection.send_packet(&Packet::disconnect(&slot.config.nsp));
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
        let target = Arc::clone(&self.target);
        self.phase = Phase::Connecting(Box::pin(async move { EngineConnection::open(&target).await }));
    }

    fn publish_to_active(&self, event: impl Fn() -> Event) {
        for slot in self.slots.values().filter(|slot| slot.active) {
            slot.publish(|_| Some(event()));
        }
    }

    fn on_open(&mut self, connection: EngineConnection) {
        self.tombstones.clear();
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

    fn send_connect(&mut self, key: u64) {
        let Phase::Open(connection) = &self.phase else {
            return;
        };
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        if slot.connect_sent || slot.connected || self.tombstones.contains_key(&slot.config.nsp) {
            return;
        }
        connection.send_packet(&slot.connect_packet());
        slot.connect_sent = true;
    }

    fn on_open_failed(&mut self, failure: OpenFailure) {
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
            self.backoff.reset();
            self.phase = Phase::Idle;
            self.publish_to_active(|| Event::ReconnectFailed);
            return;
        }
        let delay = self.backoff.next_delay(rand::random::<f64>());
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
                let target = Arc::clone(&self.target);
                self.phase = Phase::Connecting(Box::pin(async move { EngineConnection::open(&target).await }));
            }
            Phase::Waiting(_) => {}
        }
        if let Phase::Waiting(deadline) = &mut self.phase {
            *deadline = Instant::now();
        }
    }

    fn on_retry(&mut self) {
        let attempt = self.backoff.attempts();
        self.publish_to_active(|| Event::ReconnectAttempt(attempt));
        let target = Arc::clone(&self.target);
        self.phase = Phase::Connecting(Box::pin(async move { EngineConnection::open(&target).await }));
    }

    fn on_close(&mut self, reason: &'static str) {
        self.tombstones.clear();
        self.phase = Phase::Idle;
        for slot in self.slots.values_mut() {
            slot.lost_connection(reason);
        }
        self.backoff.reset();
        self.schedule_reconnect();
    }

    fn on_packet(&mut self, packet: Packet) {
        let max_payload = match &self.phase {
            Phase::Open(connection) => connection.handshake.max_payload,
            _ => return,
        };
        if self.tombstones.contains_key(&packet.nsp) {
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
                        connection.send_packet(&Packet::disconnect(&slot.config.nsp));
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
                    slot.ended_by_server(Some(Event::Error { message, data }));
                } else {
                    slot.on_disconnected();
                }
                self.close_engine_if_unused();
            }
            PacketType::Disconnect => {
                let event = slot.connected.then(|| Event::Disconnect { reason: "io server disconnect".to_owned() });
                slot.ended_by_server(event);
                self.close_engine_if_unused();
            }
            PacketType::Event | PacketType::BinaryEvent => slot.on_event(packet),
            PacketType::Ack | PacketType::BinaryAck => slot.on_ack(packet, connection),
        }
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
        if self.tombstones.get(&packet.nsp).is_some_and(Option::is_some) {
            return;
        }
        match packet.kind {
            PacketType::Connect => {
                if let Some(connection) = connection_of(&self.phase) {
                    connection.send_packet(&Packet::disconnect(&packet.nsp));
                }
                self.tombstones.insert(packet.nsp, Some(Instant::now() + TOMBSTONE_SETTLE));
            }
            PacketType::ConnectError => {
                self.tombstones.remove(&packet.nsp);
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
