//! Delivers each client's events to its listeners, in order, on a small pool of callback threads —
//! never on the IO threads, so a slow callback cannot stall a connection.
//!
//! Every client has a serial queue (a [`Dispatcher`]). A pool thread drains one queue at a time, so
//! one client's callbacks run one at a time and in event order, while different clients proceed in
//! parallel. No lock is held while user code runs, so a callback may call anything in the library.

use crate::client::flow::ReceiveGate;
use crate::client::{Event, EventSink};
use once_cell::sync::Lazy;
use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// Threads that run callbacks, shared by all clients.
pub const CALLBACK_THREADS: usize = 2;
/// Events one queue may deliver before another queue gets a turn.
const BATCH: usize = 64;
/// How long events are held at most after a client is created, for listeners registered right after.
pub const INITIAL_HOLD: Duration = Duration::from_millis(50);

/// Which listeners an event goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Connect,
    Disconnect,
    Error,
    ReconnectAttempt,
    Reconnect,
    ReconnectFailed,
    /// Server events with this name.
    Named(String),
    /// Every server event (socket.io-client's `onAny`), called before the named listeners.
    Any,
}

impl EventKind {
    fn matches(&self, event: &Event) -> bool {
        match (self, event) {
            (Self::Connect, Event::Connect)
            | (Self::Disconnect, Event::Disconnect { .. })
            | (Self::Error, Event::Error { .. })
            | (Self::ReconnectAttempt, Event::ReconnectAttempt(_))
            | (Self::Reconnect, Event::Reconnect(_))
            | (Self::ReconnectFailed, Event::ReconnectFailed)
            | (Self::Any, Event::Message(_)) => true,
            (Self::Named(name), Event::Message(message)) => *name == message.name,
            _ => false,
        }
    }
}

/// The `running` marker for a one-shot ack callback (listener ids start at 1).
const ACK_CALLBACK: u64 = 0;

/// A listener: called with every event of its kind.
pub type Callback = Arc<dyn Fn(&Event) + Send + Sync>;

struct Listener {
    id: u64,
    kind: EventKind,
    /// Removed before its first call.
    once: bool,
    callback: Callback,
}

#[derive(Default)]
struct QueueState {
    events: VecDeque<Event>,
    listeners: Vec<Listener>,
    /// The queue is on the pool's ready list or being drained.
    scheduled: bool,
    /// Events wait until the application had a chance to register listeners.
    held: bool,
    closed: bool,
    /// The listener whose callback is running right now.
    running: Option<u64>,
}

/// One client's serial event queue and listener table.
pub struct Dispatcher {
    me: Weak<Dispatcher>,
    state: Mutex<QueueState>,
    idle: Condvar,
    /// The connection's receive gate, discharged as events leave the queue.
    gate: once_cell::sync::OnceCell<Arc<ReceiveGate>>,
}

static NEXT_LISTENER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// How many callbacks are running on this thread (nested when a callback frees a client).
    static CALLBACK_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Whether the current thread is inside a callback of this library.
pub fn in_callback() -> bool {
    CALLBACK_DEPTH.with(Cell::get) > 0
}

impl Dispatcher {
    /// A new queue whose events are held until [`Dispatcher::release`] or [`INITIAL_HOLD`] passes.
    pub fn new() -> Arc<Self> {
        let dispatcher = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            state: Mutex::new(QueueState { held: true, ..QueueState::default() }),
            idle: Condvar::new(),
            gate: once_cell::sync::OnceCell::new(),
        });
        let weak = Arc::downgrade(&dispatcher);
        crate::client::runtime::runtime().spawn(async move {
            tokio::time::sleep(INITIAL_HOLD).await;
            if let Some(dispatcher) = weak.upgrade() {
                dispatcher.release();
            }
        });
        dispatcher
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts delivering held events.
    pub fn release(&self) {
        let mut state = self.lock();
        if state.held {
            state.held = false;
            self.schedule(&mut state);
        }
    }

    fn schedule(&self, state: &mut QueueState) {
        if state.scheduled || state.held || state.closed || state.events.is_empty() {
            return;
        }
        if let Some(me) = self.me.upgrade() {
            state.scheduled = true;
            POOL.push(me);
        }
    }

    /// Adds a listener and returns its id (> 0). A `once` listener is removed before its first call.
    pub fn add_listener(&self, kind: EventKind, once: bool, callback: Callback) -> u64 {
        let id = NEXT_LISTENER_ID.fetch_add(1, Ordering::Relaxed);
        self.lock().listeners.push(Listener { id, kind, once, callback });
        id
    }

    /// Whether [`Dispatcher::close`] ran (the client was freed).
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Removes every catch-all listener; returns how many there were.
    pub fn remove_any_listeners(&self) -> usize {
        let ids: Vec<u64> = self.lock().listeners.iter().filter(|l| l.kind == EventKind::Any).map(|l| l.id).collect();
        ids.iter().filter(|id| self.remove_listener(**id)).count()
    }

    /// Removes a listener. Outside a callback, waits until that listener is no longer running.
    /// Returns false when no listener has that id.
    pub fn remove_listener(&self, id: u64) -> bool {
        let mut state = self.lock();
        let Some(index) = state.listeners.iter().position(|l| l.id == id) else {
            return false;
        };
        state.listeners.remove(index);
        if !in_callback() {
            while state.running == Some(id) {
                state = self.idle.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
        true
    }

    /// Stops all delivery and drops the listeners. Outside a callback, waits until no callback of
    /// this queue is running; none starts afterwards.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let dropped = std::mem::take(&mut state.events);
        self.discharge(dropped.iter());
        let listeners = std::mem::take(&mut state.listeners);
        if !in_callback() {
            while state.running.is_some() {
                state = self.idle.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
        drop(state);
        drop(listeners);
    }

    /// Runs on a pool thread: delivers up to [`BATCH`] events, then yields the thread.
    fn drain(&self) {
        for _ in 0..BATCH {
            let event = {
                let mut state = self.lock();
                match state.events.pop_front() {
                    Some(event) if !state.closed => event,
                    _ => {
                        state.scheduled = false;
                        return;
                    }
                }
            };
            self.deliver_now(event);
        }
        let mut state = self.lock();
        state.scheduled = false;
        self.schedule(&mut state);
    }

    /// Gives the gate back what these events weighed.
    fn discharge<'a>(&self, events: impl Iterator<Item = &'a Event>) {
        if let Some(gate) = self.gate.get() {
            let (count, bytes) =
                events.filter_map(Event::flow_cost).fold((0, 0), |(count, bytes), cost| (count + 1, bytes + cost));
            gate.discharge(count, bytes);
        }
    }

    fn deliver_now(&self, event: Event) {
        let cost = event.flow_cost();
        self.deliver_inner(event);
        if let (Some(gate), Some(cost)) = (self.gate.get(), cost) {
            gate.discharge(1, cost);
        }
    }

    fn deliver_inner(&self, event: Event) {
        if let Event::AckResult { callback, outcome } = event {
            if self.begin_call(ACK_CALLBACK) {
                self.run_user_code(move || callback(&outcome));
            }
            return;
        }
        let mut ids: Vec<u64> = Vec::new();
        {
            let state = self.lock();
            // Catch-all listeners first, as socket.io-client calls them.
            ids.extend(
                state.listeners.iter().filter(|l| l.kind == EventKind::Any && l.kind.matches(&event)).map(|l| l.id),
            );
            ids.extend(
                state.listeners.iter().filter(|l| l.kind != EventKind::Any && l.kind.matches(&event)).map(|l| l.id),
            );
        }
        for id in ids {
            let callback = {
                let mut state = self.lock();
                if state.closed {
                    return;
                }
                // Removed by an earlier callback of this same event: skip it.
                let Some(index) = state.listeners.iter().position(|l| l.id == id) else {
                    continue;
                };
                let callback = if state.listeners[index].once {
                    state.listeners.remove(index).callback
                } else {
                    Arc::clone(&state.listeners[index].callback)
                };
                state.running = Some(id);
                callback
            };
            let event = &event;
            self.run_user_code(move || callback(event));
        }
    }

    /// Marks `id` as running unless the queue was closed.
    fn begin_call(&self, id: u64) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.running = Some(id);
        true
    }

    /// Runs a callback with no lock held, then clears the running mark and wakes waiters.
    fn run_user_code(&self, call: impl FnOnce()) {
        CALLBACK_DEPTH.with(|depth| depth.set(depth.get() + 1));
        let outcome = catch_unwind(AssertUnwindSafe(call));
        CALLBACK_DEPTH.with(|depth| depth.set(depth.get() - 1));
        if outcome.is_err() {
            eprintln!("realtime: a callback panicked; delivery goes on");
        }
        self.lock().running = None;
        self.idle.notify_all();
    }
}

impl EventSink for Dispatcher {
    fn deliver(&self, event: Event) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            self.discharge(std::iter::once(&event));
            return;
        }
        state.events.push_back(event);
        self.schedule(&mut state);
    }

    fn deliver_batch(&self, events: &mut Vec<Event>) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            self.discharge(events.iter());
            events.clear();
            return;
        }
        state.events.extend(events.drain(..));
        self.schedule(&mut state);
    }

    fn attach_gate(&self, gate: Arc<ReceiveGate>) {
        let _ = self.gate.set(gate);
    }
}

/// The callback threads and their ready list of queues.
struct Pool {
    ready: Mutex<VecDeque<Arc<Dispatcher>>>,
    available: Condvar,
}

static POOL: Lazy<Pool> = Lazy::new(|| {
    for index in 0..CALLBACK_THREADS {
        std::thread::Builder::new()
            .name(format!("realtime-cb-{index}"))
            .spawn(|| loop {
                let dispatcher = POOL.pop();
                dispatcher.drain();
            })
            .expect("cannot start a realtime callback thread");
    }
    Pool { ready: Mutex::new(VecDeque::new()), available: Condvar::new() }
});

impl Pool {
    fn push(&self, dispatcher: Arc<Dispatcher>) {
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).push_back(dispatcher);
        self.available.notify_one();
    }

    fn pop(&self) -> Arc<Dispatcher> {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(dispatcher) = ready.pop_front() {
                return dispatcher;
            }
            ready = self.available.wait(ready).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn delivers_in_order_to_matching_listeners_and_off_stops_them() {
        let dispatcher = Dispatcher::new();
        dispatcher.release();
        let (tx, rx) = mpsc::channel();
        let tx2 = Mutex::new(tx.clone());
        let attempts = dispatcher.add_listener(
            EventKind::ReconnectAttempt,
            false,
            Arc::new(move |e| tx2.lock().unwrap().send(format!("{e:?}")).unwrap()),
        );
        let tx3 = Mutex::new(tx);
        dispatcher.add_listener(
            EventKind::Connect,
            false,
            Arc::new(move |e| tx3.lock().unwrap().send(format!("{e:?}")).unwrap()),
        );
        for n in 1..=100 {
            dispatcher.deliver(Event::ReconnectAttempt(n));
        }
        dispatcher.deliver(Event::Connect);
        let got: Vec<String> = (0..101).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        let want: Vec<String> =
            (1..=100).map(|n| format!("ReconnectAttempt({n})")).chain(["Connect".to_owned()]).collect();
        assert_eq!(got, want);
        assert!(dispatcher.remove_listener(attempts));
        assert!(!dispatcher.remove_listener(attempts));
        dispatcher.deliver(Event::ReconnectAttempt(7));
        dispatcher.deliver(Event::Connect);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "Connect");
    }

    #[test]
    fn holds_events_until_released() {
        let dispatcher = Dispatcher::new();
        let (tx, rx) = mpsc::channel();
        dispatcher.deliver(Event::Connect);
        let tx = Mutex::new(tx);
        dispatcher.add_listener(
            EventKind::Connect,
            false,
            Arc::new(move |e| tx.lock().unwrap().send(format!("{e:?}")).unwrap()),
        );
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "Connect");
    }

    #[test]
    fn close_waits_for_a_running_callback_and_stops_delivery() {
        let dispatcher = Dispatcher::new();
        dispatcher.release();
        let (started_tx, started) = mpsc::channel();
        let started_tx = Mutex::new(started_tx);
        let (finish_tx, finish) = mpsc::channel::<()>();
        let finish = Mutex::new(finish);
        let finished = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&finished);
        dispatcher.add_listener(
            EventKind::ReconnectAttempt,
            false,
            Arc::new(move |_| {
                started_tx.lock().unwrap().send(()).unwrap();
                // Blocks until the test lets it finish (or gives up: the channel closes).
                let _ = finish.lock().unwrap().recv_timeout(Duration::from_secs(5));
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        for n in 0..50 {
            dispatcher.deliver(Event::ReconnectAttempt(n));
        }
        started.recv_timeout(Duration::from_secs(5)).expect("the first callback started");
        // close() must wait for the running callback: let it finish only from another thread, later.
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            finish_tx.send(()).unwrap();
            finish_tx
        });
        dispatcher.close();
        assert_eq!(finished.load(Ordering::SeqCst), 1, "close returned while the callback was running");
        let finish_tx = releaser.join().unwrap();
        // Nothing else starts after close: no second "started".
        drop(finish_tx);
        assert!(started.recv_timeout(Duration::from_millis(200)).is_err(), "a callback started after close");
        assert_eq!(finished.load(Ordering::SeqCst), 1);
    }
}
