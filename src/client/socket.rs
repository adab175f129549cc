//! The state of one socket that the application can read at any time, and the one place its events
//! are published: under the state lock, so a state change and its event are never seen out of order.

use super::event::{Event, EventSink};
use super::flow::ReceiveGate;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What the application's calls read and check synchronously.
#[derive(Debug)]
pub struct SocketState {
    /// The application wants the socket connected (its last open/close), or the server ended it.
    active: bool,
    connected: bool,
    id: Option<String>,
    recovered: bool,
    /// Bumped by every change between closed and open; the manager task publishes only under the
    /// current one, so nothing from before a `close` can surface after it. A redundant `open` keeps it.
    generation: u64,
    /// Emits waiting in the send buffer or the retry queue.
    buffered: usize,
    /// The server's `maxPayload` (from the last handshake; socket.io's default before one).
    max_payload: u64,
    /// Server ack requests not answered yet: handle → (server ack id, connection epoch).
    server_acks: HashMap<u64, (u64, u64)>,
    next_server_ack: u64,
}

impl Default for SocketState {
    fn default() -> Self {
        Self {
            active: false,
            connected: false,
            id: None,
            recovered: false,
            generation: 0,
            buffered: 0,
            max_payload: 1_000_000,
            server_acks: HashMap::new(),
            next_server_ack: 1,
        }
    }
}

impl SocketState {
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn set_connected(&mut self, id: String, recovered: bool) {
        self.active = true;
        self.connected = true;
        self.id = Some(id);
        self.recovered = recovered;
    }

    /// Disconnected: the id is gone and so are the server's unanswered ack requests.
    pub fn set_disconnected(&mut self) {
        self.connected = false;
        self.id = None;
        self.server_acks.clear();
    }

    /// The application opened (true) or closed (false) the socket, or the server ended it (false).
    /// Returns whether that changed anything; a change starts a new generation.
    pub fn set_active(&mut self, active: bool) -> bool {
        if self.active == active {
            return false;
        }
        self.active = active;
        self.generation += 1;
        true
    }

    /// A new generation without a state change: nothing published before it surfaces any more.
    pub fn end_generation(&mut self) {
        self.generation += 1;
    }

    pub fn set_max_payload(&mut self, max_payload: u64) {
        self.max_payload = max_payload;
    }

    /// Registers a server ack request and returns the handle the application answers with.
    pub fn register_server_ack(&mut self, server_id: u64, epoch: u64) -> u64 {
        let handle = self.next_server_ack;
        self.next_server_ack += 1;
        self.server_acks.insert(handle, (server_id, epoch));
        handle
    }
}

/// Settings the application's calls check synchronously.
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    pub max_buffered: usize,
    /// Every (non-volatile) emit goes through the retry queue.
    pub queued: bool,
}

pub struct SocketShared {
    state: Mutex<SocketState>,
    sink: Arc<dyn EventSink>,
    pub limits: SocketLimits,
    pub stats: super::stats::SocketStats,
}

impl SocketShared {
    pub fn new(sink: Arc<dyn EventSink>, limits: SocketLimits) -> Self {
        Self { state: Mutex::new(SocketState::default()), sink, limits, stats: Default::default() }
    }

    fn lock(&self) -> MutexGuard<'_, SocketState> {
        // A poisoned lock only means a panic elsewhere; the state itself is always consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn is_connected(&self) -> bool {
        self.lock().connected
    }

    pub fn id(&self) -> Option<String> {
        self.lock().id.clone()
    }

    /// Emits waiting in the send buffer or the retry queue.
    pub fn buffered(&self) -> usize {
        self.lock().buffered
    }

    pub fn is_recovered(&self) -> bool {
        let state = self.lock();
        state.connected && state.recovered
    }

    pub fn max_payload(&self) -> u64 {
        self.lock().max_payload
    }

    /// Applies `update` and delivers the event it returns, if `generation` is still the current one.
    pub fn publish(&self, generation: u64, update: impl FnOnce(&mut SocketState) -> Option<Event>) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if let Some(event) = update(&mut state) {
            self.sink.deliver(event);
        }
    }

    /// Hands a batch of server events and ack results to the sink under one lock: the events only if
    /// `generation` is still the current one (ack results belong to the emit, not to a connection,
    /// and always go), each server ack request registered for `epoch`, the gate charged once for
    /// everything that weighs in it. Leaves `batch` empty.
    pub fn publish_batch(&self, generation: u64, epoch: u64, batch: &mut Vec<Event>, gate: &ReceiveGate) {
        let mut state = self.lock();
        if state.generation != generation {
            batch.retain(|event| !matches!(event, Event::Message(_)));
        }
        let (mut events, mut bytes) = (0, 0);
        for event in batch.iter_mut() {
            if let Event::Message(message) = event {
                if let Some(server_id) = message.ack {
                    message.ack = Some(state.register_server_ack(server_id, epoch));
                }
            }
            if let Some(cost) = event.flow_cost() {
                events += 1;
                bytes += cost;
            }
        }
        gate.charge_many(events, bytes);
        self.sink.deliver_batch(batch);
        batch.clear();
    }

    /// Delivers whatever the generation: ack results belong to the emit, not to a connection.
    pub fn deliver(&self, event: Event) {
        let _state = self.lock();
        self.sink.deliver(event);
    }

    /// An application call that changes the socket (open, close): `update` changes the state (and the
    /// generation, through `set_active`) and may return an event (the `io client disconnect` of a
    /// close); `send` hands the task its command with the resulting generation. All under one lock,
    /// command before event, so whatever a callback does about the event reaches the task after the
    /// command that caused it.
    pub fn change<E>(
        &self,
        update: impl FnOnce(&mut SocketState) -> Option<Event>,
        send: impl FnOnce(u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut state = self.lock();
        let event = update(&mut state);
        send(state.generation)?;
        if let Some(event) = event {
            self.sink.deliver(event);
        }
        Ok(())
    }

    /// Decides, for an emit made now, whether it is sent, dropped (volatile, offline) or buffered;
    /// a buffered one is counted, or refused when the buffer is full.
    pub fn admit_emit(&self, volatile: bool) -> Result<Admission, usize> {
        let mut state = self.lock();
        if volatile {
            return Ok(if state.connected { Admission::Send } else { Admission::Drop });
        }
        if state.connected && !self.limits.queued {
            return Ok(Admission::Send);
        }
        if state.buffered >= self.limits.max_buffered {
            return Err(state.buffered);
        }
        state.buffered += 1;
        Ok(Admission::Counted)
    }

    /// Counts emits that entered (+) or left (−) the buffer on the manager's side.
    pub fn adjust_buffered(&self, added: usize, removed: usize) {
        let mut state = self.lock();
        state.buffered = (state.buffered + added).saturating_sub(removed);
    }

    /// Takes a server ack request for answering (exactly once).
    pub fn take_server_ack(&self, handle: u64) -> Option<(u64, u64)> {
        self.lock().server_acks.remove(&handle)
    }
}

/// What happens to an emit (see [`SocketShared::admit_emit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Connected: goes out at once (unless the connection drops before the task sends it).
    Send,
    /// Counted in the buffer bound.
    Counted,
    /// Volatile while not connected: dropped, as socket.io-client does.
    Drop,
}
