//! The state of one socket that the application can read at any time, and the one place its events
//! are published: under the state lock, so a state change and its event are never seen out of order.

use super::event::{Event, EventSink};
use std::sync::{Arc, Mutex, MutexGuard};

/// What `is_connected` and `socket_id` read.
#[derive(Debug, Default)]
pub struct SocketState {
    connected: bool,
    id: Option<String>,
    /// Bumped by every open/close call; the manager task publishes only under the current one, so
    /// nothing from before a `close` can surface after it.
    generation: u64,
}

impl SocketState {
    pub fn set_connected(&mut self, id: String) {
        self.connected = true;
        self.id = Some(id);
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn set_disconnected(&mut self) {
        self.connected = false;
        self.id = None;
    }
}

pub struct SocketShared {
    state: Mutex<SocketState>,
    sink: Arc<dyn EventSink>,
}

impl SocketShared {
    pub fn new(sink: Arc<dyn EventSink>) -> Self {
        Self { state: Mutex::new(SocketState::default()), sink }
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

    /// Starts a new generation (an open or close call) and returns it. `update` runs under the same
    /// lock and may publish at once, e.g. the `io client disconnect` of a close.
    pub fn next_generation(&self, update: impl FnOnce(&mut SocketState) -> Option<Event>) -> u64 {
        let mut state = self.lock();
        state.generation += 1;
        if let Some(event) = update(&mut state) {
            self.sink.deliver(event);
        }
        state.generation
    }
}
