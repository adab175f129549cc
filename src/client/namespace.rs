//! The protocol side of one socket (namespace), owned by the manager task: the send buffer, the ack
//! table and its timers, the `retries` queue, events received before the CONNECT reply, the
//! connection-state-recovery fields, and the channels to re-join after a reconnect.

use super::channels;
use super::engine::EngineConnection;
use super::event::{AckCallback, AckOutcome, Event, IncomingEvent, MessageStatus, StatusSink};
use super::flow::ReceiveGate;
use super::socket::SocketShared;
use super::EmitRequest;
use crate::protocol::json;
use crate::protocol::socketio::event_items;
use crate::protocol::Packet;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// socket.io-client's messages for failed acks.
pub const ACK_TIMED_OUT: &str = "operation has timed out";
pub const ACK_DISCONNECTED: &str = "socket has been disconnected";

/// How one socket was configured.
#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub nsp: String,
    pub auth: Option<Map<String, Value>>,
    pub ack_timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub echo_messages: Option<bool>,
    pub auto_join_channels: bool,
}

/// An emit on its way from the application to the task.
pub struct EmitCommand {
    pub request: EmitRequest,
    /// Counted in the shared buffer bound by the caller.
    pub counted: bool,
    /// Bytes the caller reserved in the send gate (released when the task takes the command).
    pub reserved: usize,
}

/// Channel membership kept for re-joining (`autoJoinChannels`).
/// Each carries its per-call `echo` (None: the socket's `echoMessages`); a join keeps its flag for
/// the re-joins.
pub enum ChannelCommand {
    Join(String, Option<bool>),
    Leave(String, Option<bool>),
    UpdateProfile(Value, Option<bool>),
}

enum AckKind {
    User(AckCallback),
    /// The in-flight packet of the retry queue, by sequence number.
    Queue(u64),
    /// A tracked emit: its packet (to send again after a lost connection) and its status sink.
    Tracked(Box<TrackedAck>),
}

struct TrackedAck {
    packet: Packet,
    sink: StatusSink,
    /// Handed to a connection at least once (an expiry is then a failure, not `Expired`).
    sent: bool,
}

struct PendingAck {
    deadline: Option<Instant>,
    kind: AckKind,
    /// When the packet went to a connection (none while it waits offline): for the round trip.
    sent: Option<Instant>,
}

struct QueuedEmit {
    seq: u64,
    /// Resent as it is until acked; its `ack` gets the final outcome.
    request: EmitRequest,
    tries: u32,
    pending: bool,
}

pub struct SocketSlot {
    pub config: SocketConfig,
    pub shared: Arc<SocketShared>,
    /// The generation of the last open/close the task applied; events are published under it.
    pub generation: u64,
    /// The application wants this socket connected.
    pub active: bool,
    /// A CONNECT was sent on the current connection and no reply came yet.
    pub connect_sent: bool,
    /// The server accepted the CONNECT on the current connection.
    pub connected: bool,
    /// Counts accepted connections, to drop ack answers meant for an earlier one.
    epoch: u64,
    pid: Option<String>,
    last_offset: Option<String>,
    next_ack_id: u64,
    acks: BTreeMap<u64, PendingAck>,
    /// The acks with a deadline, by (deadline, id): O(log n) insert, removal and expiry.
    ack_deadlines: BTreeSet<(Instant, u64)>,
    /// Packets waiting for the connection; each counts in the shared buffer bound.
    send_buffer: VecDeque<Packet>,
    receive_buffer: Vec<IncomingEvent>,
    queue: VecDeque<QueuedEmit>,
    next_queue_seq: u64,
    joined: BTreeMap<String, Option<bool>>,
    profile: Option<(Value, Option<bool>)>,
    /// Events of the current manager pass, handed to the sink in one batch by [`Self::flush`].
    batch: Vec<Event>,
    gate: Arc<ReceiveGate>,
    /// Membership changes made while not connected, for a recovered session (the server kept the old
    /// rooms and profile): per channel, whether the server has it and the last join or leave; and
    /// whether the profile changed.
    offline_channels: BTreeMap<String, (bool, ChannelChange)>,
    offline_profile: bool,
}

/// The last membership change made offline for one channel, with its per-call `echo`.
#[derive(Debug, Clone, Copy)]
enum ChannelChange {
    Join(Option<bool>),
    Leave(Option<bool>),
}

impl SocketSlot {
    pub fn new(config: SocketConfig, shared: Arc<SocketShared>, gate: Arc<ReceiveGate>) -> Self {
        Self {
            config,
            shared,
            generation: 0,
            active: false,
            connect_sent: false,
            connected: false,
            epoch: 0,
            pid: None,
            last_offset: None,
            next_ack_id: 0,
            acks: BTreeMap::new(),
            ack_deadlines: BTreeSet::new(),
            send_buffer: VecDeque::new(),
            receive_buffer: Vec::new(),
            queue: VecDeque::new(),
            next_queue_seq: 0,
            joined: BTreeMap::new(),
            profile: None,
            batch: Vec::new(),
            gate,
            offline_channels: BTreeMap::new(),
            offline_profile: false,
        }
    }

    /// Publishes a state change and its event, after the batch so far (order is kept).
    pub fn publish(&mut self, update: impl FnOnce(&mut super::socket::SocketState) -> Option<Event>) {
        self.flush();
        self.shared.publish(self.generation, update);
    }

    /// Hands the events of this pass to the sink: one lock, one hand-off, the gate charged once.
    pub fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.shared.publish_batch(self.generation, self.epoch, &mut self.batch, &self.gate);
        }
    }

    /// The CONNECT payload: `pid`/`offset` for recovery, then `echoMessages`, then `auth` (auth wins).
    pub fn connect_packet(&self) -> Packet {
        let mut payload = Map::new();
        if let Some(pid) = &self.pid {
            payload.insert("pid".to_owned(), Value::String(pid.clone()));
            if let Some(offset) = &self.last_offset {
                payload.insert("offset".to_owned(), Value::String(offset.clone()));
            }
        }
        if let Some(echo) = self.config.echo_messages {
            payload.insert("echoMessages".to_owned(), Value::Bool(echo));
        }
        if let Some(auth) = &self.config.auth {
            payload.extend(auth.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let payload = (!payload.is_empty() || self.config.auth.is_some()).then_some(Value::Object(payload));
        Packet::connect(&self.config.nsp, payload)
    }

    // ----------------------------------------------------------------------------------------------
    // Emitting

    pub fn emit(&mut self, EmitCommand { request, counted, .. }: EmitCommand, connection: Option<&EngineConnection>) {
        if self.config.retries.is_some() && !request.volatile {
            let seq = self.next_queue_seq;
            self.next_queue_seq += 1;
            self.queue.push_back(QueuedEmit { seq, request, tries: 0, pending: false });
            if !counted {
                self.shared.adjust_buffered(1, 0);
            }
            self.drain_queue(connection, false);
            return;
        }
        if let Some(sink) = request.tracked {
            return self.emit_tracked(
                request.name,
                request.args,
                request.attachments,
                request.timeout,
                sink,
                counted,
                connection,
            );
        }
        let EmitRequest { name, args, attachments, volatile, ack, timeout, .. } = request;
        let timeout = timeout.or(self.config.ack_timeout);
        let requeue = !volatile;
        let ack = ack.map(AckKind::User);
        self.send_event(&name, &args, attachments, ack, timeout, volatile, counted, requeue, connection);
    }

    #[allow(clippy::too_many_arguments)]
    fn send_event(
        &mut self,
        name: &str,
        args: &str,
        attachments: Vec<Vec<u8>>,
        ack: Option<AckKind>,
        timeout: Option<Duration>,
        volatile: bool,
        counted: bool,
        requeue: bool,
        connection: Option<&EngineConnection>,
    ) {
        let online = connection.is_some() && self.connected;
        let id = ack.map(|kind| self.register_ack(timeout, online, |_| kind));
        let packet = Packet::event(&self.config.nsp, event_items(name, args), attachments, id);
        self.send_or_buffer(packet, volatile, counted, requeue, connection);
    }

    /// A new pending ack (the id `make` gets), with its deadline `timeout` from now — even if the packet
    /// waits in the buffer — and, when `online`, the time it went out (for the round trip).
    fn register_ack(&mut self, timeout: Option<Duration>, online: bool, make: impl FnOnce(u64) -> AckKind) -> u64 {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        let deadline = timeout.map(|t| Instant::now() + t);
        if let Some(deadline) = deadline {
            self.ack_deadlines.insert((deadline, id));
        }
        let sent = online.then(Instant::now);
        self.acks.insert(id, PendingAck { deadline, kind: make(id), sent });
        self.shared.stats.pending_acks.store(self.acks.len(), std::sync::atomic::Ordering::Relaxed);
        id
    }

    /// Hands `packet` to the connection when connected, else to the offline buffer (a volatile one is
    /// dropped); keeps the buffered count. Whether it was sent.
    fn send_or_buffer(
        &mut self,
        packet: Packet,
        volatile: bool,
        counted: bool,
        requeue: bool,
        connection: Option<&EngineConnection>,
    ) -> bool {
        match connection.filter(|_| self.connected) {
            Some(connection) => {
                connection.send_packet(packet, requeue);
                if counted {
                    self.shared.adjust_buffered(0, 1);
                }
                true
            }
            None if volatile => false,
            None => {
                self.send_buffer.push_back(packet);
                if !counted {
                    self.shared.adjust_buffered(1, 0);
                }
                false
            }
        }
    }

    /// A tracked emit: always with an ack id, its time to live as the ack deadline, `Sent` or
    /// `Queued` at once.
    #[allow(clippy::too_many_arguments)]
    fn emit_tracked(
        &mut self,
        name: String,
        args: String,
        attachments: Vec<Vec<u8>>,
        ttl: Option<Duration>,
        sink: StatusSink,
        counted: bool,
        connection: Option<&EngineConnection>,
    ) {
        let online = connection.is_some() && self.connected;
        let nsp = self.config.nsp.clone();
        let mut packet = None;
        self.register_ack(ttl, online, |id| {
            let event = Packet::event(&nsp, event_items(&name, &args), attachments, Some(id));
            packet = Some(event.clone());
            AckKind::Tracked(Box::new(TrackedAck { packet: event, sink: Arc::clone(&sink), sent: online }))
        });
        let packet = packet.expect("register_ack calls make");
        let sent = self.send_or_buffer(packet, false, counted, true, connection);
        self.report(&sink, if sent { MessageStatus::Sent } else { MessageStatus::Queued }, "");
    }

    /// A status of a tracked emit, in order with the socket's other events.
    fn report(&mut self, sink: &StatusSink, status: MessageStatus, detail: &str) {
        let sink = Arc::clone(sink);
        let detail = detail.to_owned();
        self.batch.push(Event::AckResult {
            callback: Box::new(move |_| sink(status, &detail)),
            outcome: AckOutcome::Failed(String::new()),
        });
    }

    /// socket.io-client's `_drainQueue`: one queued packet in flight at a time.
    fn drain_queue(&mut self, connection: Option<&EngineConnection>, force: bool) {
        if !self.connected || connection.is_none() {
            return;
        }
        let timeout = self.config.ack_timeout;
        let Some(first) = self.queue.front_mut() else {
            return;
        };
        if first.pending && !force {
            return;
        }
        first.pending = true;
        first.tries += 1;
        let request = &first.request;
        let (seq, name, args, attachments) =
            (first.seq, request.name.clone(), request.args.clone(), request.attachments.clone());
        let timeout = request.timeout.or(timeout);
        let ack = Some(AckKind::Queue(seq));
        // Not handed back when the connection dies: the queue sends it again itself.
        self.send_event(&name, &args, attachments, ack, timeout, false, false, false, connection);
    }

    fn on_queue_result(&mut self, seq: u64, outcome: AckOutcome, connection: Option<&EngineConnection>) {
        if self.queue.front().map(|q| q.seq) != Some(seq) {
            return;
        }
        let retries = self.config.retries.unwrap_or(0);
        let finished = match &outcome {
            AckOutcome::Answered { .. } => true,
            AckOutcome::Failed(_) => self.queue.front().is_some_and(|q| q.tries > retries),
        };
        if finished {
            let done = self.queue.pop_front().expect("front checked above");
            self.shared.adjust_buffered(0, 1);
            if let Some(callback) = done.request.ack {
                self.batch.push(Event::AckResult { callback, outcome });
            }
        } else if let Some(front) = self.queue.front_mut() {
            front.pending = false;
        }
        self.drain_queue(connection, false);
    }

    /// Answers a server ack request, if it was made on the current connection.
    pub fn answer_ack(
        &mut self,
        server_id: u64,
        epoch: u64,
        args: String,
        attachments: Vec<Vec<u8>>,
        connection: Option<&EngineConnection>,
    ) {
        if epoch != self.epoch || !self.connected {
            return;
        }
        if let Some(connection) = connection {
            connection.send_packet(Packet::ack(&self.config.nsp, server_id, args, attachments), false);
        }
    }

    // ----------------------------------------------------------------------------------------------
    // Channels

    pub fn channel(&mut self, command: ChannelCommand, connection: Option<&EngineConnection>) {
        let offline = !self.connected;
        let packet = match command {
            ChannelCommand::Join(channel, echo) => {
                let packet = channels::join_packet(&channel, echo);
                if offline {
                    self.record_offline(&channel, ChannelChange::Join(echo));
                }
                self.joined.insert(channel, echo);
                packet
            }
            ChannelCommand::Leave(channel, echo) => {
                if offline {
                    self.record_offline(&channel, ChannelChange::Leave(echo));
                }
                self.joined.remove(&channel);
                channels::leave_packet(&channel, echo)
            }
            ChannelCommand::UpdateProfile(data, echo) => {
                let packet = channels::update_packet(&data, echo);
                self.profile = Some((data, echo));
                self.offline_profile |= offline;
                packet
            }
        };
        // Offline, nothing is buffered: the connect that follows re-sends the membership (all of it on
        // a new session, what changed on a recovered one).
        if self.connected {
            let (name, args) = packet;
            self.send_event(&name, &args, Vec::new(), None, None, false, false, false, connection);
        }
    }

    /// Keeps an offline change; the first for a channel also notes whether the server has the channel
    /// (every change made online was sent, so `joined` is the server's view until then).
    fn record_offline(&mut self, channel: &str, change: ChannelChange) {
        let on_server = self.joined.contains_key(channel);
        self.offline_channels.entry(channel.to_owned()).or_insert((on_server, change)).1 = change;
    }

    /// After the CONNECT reply: on a new session the whole membership (the server knows nothing); on a
    /// recovered one, which kept the rooms and the profile, only the changes made while offline —
    /// leaves first (the channels left do not see the new profile), then the profile, then the joins.
    fn rejoin_channels(&mut self, recovered: bool, connection: Option<&EngineConnection>) {
        let changes = std::mem::take(&mut self.offline_channels);
        let profile_changed = std::mem::take(&mut self.offline_profile);
        if !self.config.auto_join_channels {
            return;
        }
        let packets: Vec<(String, String)> = if recovered {
            // A channel that ends as the server has it (joined and left again) needs nothing.
            let leaves = changes.iter().filter_map(|(channel, (on_server, change))| match change {
                ChannelChange::Leave(echo) if *on_server => Some(channels::leave_packet(channel, *echo)),
                _ => None,
            });
            let profile = self
                .profile
                .iter()
                .filter(|_| profile_changed)
                .map(|(data, echo)| channels::update_packet(data, *echo));
            let joins = changes.iter().filter_map(|(channel, (on_server, change))| match change {
                ChannelChange::Join(echo) if !*on_server => Some(channels::join_packet(channel, *echo)),
                _ => None,
            });
            leaves.chain(profile).chain(joins).collect()
        } else {
            // Agnost's client order: the profile first, so each join already carries it.
            let profile = self.profile.iter().map(|(data, echo)| channels::update_packet(data, *echo));
            let joins = self.joined.iter().map(|(channel, echo)| channels::join_packet(channel, *echo));
            profile.chain(joins).collect()
        };
        for (name, args) in packets {
            self.send_event(&name, &args, Vec::new(), None, None, false, false, false, connection);
        }
    }

    // ----------------------------------------------------------------------------------------------
    // Incoming

    /// The server accepted the CONNECT. In socket.io-client's order: state, events received before
    /// the reply, the send buffer, the retry queue, then `connect`.
    pub fn on_connect_reply(
        &mut self,
        data: &Map<String, Value>,
        connection: Option<&EngineConnection>,
        max_payload: u64,
    ) {
        let Some(sid) = data.get("sid").and_then(Value::as_str) else {
            self.publish(|_| {
                Some(Event::Error {
                    message: "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, \
                              but they are not compatible"
                        .to_owned(),
                    data: Value::Null,
                })
            });
            return;
        };
        let pid = data.get("pid").and_then(Value::as_str).map(str::to_owned);
        let recovered = pid.is_some() && pid == self.pid;
        self.pid = pid;
        self.connected = true;
        self.epoch += 1;
        let sid = sid.to_owned();
        self.publish(|state| {
            state.set_connected(sid, recovered);
            state.set_max_payload(max_payload);
            None
        });
        for event in std::mem::take(&mut self.receive_buffer) {
            self.deliver_event(event);
        }
        self.rejoin_channels(recovered, connection);
        if let Some(connection) = connection {
            let flushed = self.send_buffer.len();
            let mut now_sent = Vec::new();
            for packet in self.send_buffer.drain(..) {
                if let Some(PendingAck { kind: AckKind::Tracked(tracked), sent, .. }) =
                    packet.id.and_then(|id| self.acks.get_mut(&id))
                {
                    tracked.sent = true;
                    *sent = Some(Instant::now());
                    now_sent.push(Arc::clone(&tracked.sink));
                }
                connection.send_packet(packet, true);
            }
            self.shared.adjust_buffered(0, flushed);
            for sink in now_sent {
                self.report(&sink, MessageStatus::Sent, "");
            }
        }
        self.drain_queue(connection, true);
        log::info!("namespace {} connected", self.config.nsp);
        self.publish(|_| Some(Event::Connect));
    }

    pub fn on_event(&mut self, packet: Packet) {
        let server_ack = packet.id;
        let Some(event) =
            packet.data.and_then(|text| IncomingEvent::from_packet_text(text, packet.attachments, server_ack))
        else {
            return;
        };
        if self.connected {
            self.deliver_event(event);
        } else if self.connect_sent && self.pid.is_some() {
            // Before the CONNECT reply only a recovery sends events (the missed ones). Without a pid
            // they are a previous socket's of this namespace (one freed while its CONNECT was in
            // flight, left since): not this socket's.
            self.receive_buffer.push(event);
        }
    }

    fn deliver_event(&mut self, event: IncomingEvent) {
        if self.pid.is_some() {
            let last = json::array_elements(event.args()).and_then(|items| items.last().copied());
            if let Some(offset) = last.filter(|l| l.starts_with('"')).and_then(json::decode_string) {
                self.last_offset = Some(offset);
            }
        }
        // `ack` is still the server's id: the batch registers it (see `SocketShared::publish_batch`).
        self.batch.push(Event::Message(event));
    }

    pub fn on_ack(&mut self, packet: Packet, connection: Option<&EngineConnection>) {
        let Some(id) = packet.id else { return };
        let Some(pending) = self.take_ack(id) else {
            return;
        };
        if let Some(sent) = pending.sent {
            let stats = &self.shared.stats;
            stats.last_ack_rtt_us.store(sent.elapsed().as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
            stats.acks_answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let args = packet.data.unwrap_or_else(|| "[]".to_owned());
        let outcome = AckOutcome::Answered { args, attachments: packet.attachments };
        self.finish_ack(pending.kind, outcome, connection);
    }

    fn finish_ack(&mut self, kind: AckKind, outcome: AckOutcome, connection: Option<&EngineConnection>) {
        match kind {
            AckKind::User(callback) => self.batch.push(Event::AckResult { callback, outcome }),
            AckKind::Queue(seq) => self.on_queue_result(seq, outcome, connection),
            AckKind::Tracked(tracked) => {
                let (status, detail) = match &outcome {
                    AckOutcome::Answered { args, .. } => (MessageStatus::Acked, args.as_str()),
                    AckOutcome::Failed(_) if !tracked.sent => (MessageStatus::Expired, ""),
                    AckOutcome::Failed(reason) if reason == ACK_TIMED_OUT => {
                        (MessageStatus::Failed, "no acknowledgement within its time to live")
                    }
                    AckOutcome::Failed(reason) => (MessageStatus::Failed, reason.as_str()),
                };
                self.report(&tracked.sink, status, detail);
            }
        }
    }

    // ----------------------------------------------------------------------------------------------
    // Connection loss and timers

    /// The connection is gone (`reason` is socket.io-client's): `disconnect` if the socket was
    /// connected, then the acks fail — socket.io-client's order.
    pub fn lost_connection(&mut self, reason: &str) {
        if self.connected {
            self.publish(|state| {
                state.set_disconnected();
                Some(Event::Disconnect { reason: reason.to_owned() })
            });
        }
        self.on_disconnected();
    }

    /// The server ended the socket (DISCONNECT or CONNECT_ERROR): inactive until the application opens
    /// it again. `event` is published in the same step, so a callback that reopens sees it closed.
    pub fn ended_by_server(&mut self, event: Option<Event>) {
        self.active = false;
        let was_connected = self.connected;
        self.publish(|state| {
            if was_connected {
                state.set_disconnected();
            }
            state.set_active(false);
            event
        });
        // `set_active(false)` started a new generation (unless a close of the application's did
        // already); the task follows, so its later events for this socket still publish.
        self.generation += 1;
        self.on_disconnected();
    }

    /// The socket stopped being connected (any reason): fail the acks of packets already sent.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
        self.connect_sent = false;
        self.receive_buffer.clear();
        let buffered: BTreeSet<u64> = self.send_buffer.iter().filter_map(|p| p.id).collect();
        let failed: Vec<u64> = self.acks.keys().copied().filter(|id| !buffered.contains(id)).collect();
        // A tracked emit of a socket that stays open survives: back to the offline buffer (at least
        // once: the server may have had it), oldest first, ahead of what was never sent.
        let mut requeued = Vec::new();
        for id in failed {
            if self.active {
                if let Some(PendingAck { kind: AckKind::Tracked(tracked), .. }) = self.acks.get(&id) {
                    requeued.push((tracked.packet.clone(), Arc::clone(&tracked.sink)));
                    continue;
                }
            }
            if let Some(pending) = self.take_ack(id) {
                self.finish_ack(pending.kind, AckOutcome::Failed(ACK_DISCONNECTED.to_owned()), None);
            }
        }
        if !requeued.is_empty() {
            self.shared.adjust_buffered(requeued.len(), 0);
            let (packets, sinks): (Vec<Packet>, Vec<StatusSink>) = requeued.into_iter().unzip();
            for packet in packets.into_iter().rev() {
                self.send_buffer.push_front(packet);
            }
            for sink in sinks {
                self.report(&sink, MessageStatus::Queued, "");
            }
        }
    }

    /// Removes a pending ack and its deadline.
    fn take_ack(&mut self, id: u64) -> Option<PendingAck> {
        let pending = self.acks.remove(&id)?;
        self.shared.stats.pending_acks.store(self.acks.len(), std::sync::atomic::Ordering::Relaxed);
        if let Some(deadline) = pending.deadline {
            self.ack_deadlines.remove(&(deadline, id));
        }
        Some(pending)
    }

    /// The earliest ack deadline: O(log n), whatever the number of pending acks.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.ack_deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// Fails the acks whose time is up (taken in deadline order, never scanning the others), and
    /// takes their packets out of the send buffer.
    pub fn expire_acks(&mut self, now: Instant, connection: Option<&EngineConnection>) {
        while let Some(&(deadline, id)) = self.ack_deadlines.first() {
            if deadline > now {
                break;
            }
            let Some(pending) = self.take_ack(id) else {
                continue;
            };
            if !self.send_buffer.is_empty() {
                let before = self.send_buffer.len();
                self.send_buffer.retain(|p| p.id != Some(id));
                let removed = before - self.send_buffer.len();
                if removed > 0 {
                    self.shared.adjust_buffered(0, removed);
                }
            }
            self.finish_ack(pending.kind, AckOutcome::Failed(ACK_TIMED_OUT.to_owned()), connection);
        }
    }

    /// Packets the connection never wrote (it died): back to the front of the offline buffer, in
    /// order, to be sent after the next CONNECT; their acks keep waiting.
    pub fn requeue_unsent(&mut self, packets: Vec<Packet>) {
        if packets.is_empty() {
            return;
        }
        let count = packets.len();
        for packet in packets.into_iter().rev() {
            self.send_buffer.push_front(packet);
        }
        self.shared.adjust_buffered(count, 0);
    }
}
