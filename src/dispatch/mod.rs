//! Delivers each client's events to its listeners, in order, off the IO threads — on one of a small
//! pool of callback threads, or on the application's own thread in poll mode — so a slow callback
//! cannot stall a connection.
//!
//! Every client has a serial queue (a [`Dispatcher`]) bound to one [`Executor`] for its whole life:
//! its callbacks run one at a time, in event order, always on the same thread. The IO side hands
//! events over in batches ([`EventSink::deliver_batch`]): one lock of the queue per batch, and the
//! executor is told only when the queue was idle. The executor's thread takes up to a batch of
//! events at once, so neither side takes a lock per event on the queue. No lock is held while user
//! code runs, so a callback may call anything in the library.
//!
//! Listeners carry an optional finalizer, run exactly once after the listener's last possible
//! callback (after realtime_off, realtime_free, a once-listener's call), whatever the thread.
//!
//! Events raised right after a client is created wait, while no listener of their kind is
//! registered yet, until the application is done registering (its first call that is not a
//! registration) or [`INITIAL_HOLD`] passes: listeners registered right after `realtime_new` miss
//! nothing, and an event that has its listener is never held.

mod executor;

pub use executor::{configure_callback_threads, Executor, Poller};

use crate::client::flow::ReceiveGate;
use crate::client::{Event, EventSink};
use once_cell::sync::OnceCell;
use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// How long events without a listener are held at most after a client is created.
pub const INITIAL_HOLD: Duration = Duration::from_millis(50);
/// Gate credit is returned at least this often within a batch.
const DISCHARGE_EVERY: usize = 64;

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
    /// Agnost's user events (`user:signin`, …: [`USER_EVENTS`]), called with the catch-all listeners
    /// but not removed by [`Dispatcher::remove_any_listeners`], and holding back no other event.
    ///
    /// [`USER_EVENTS`]: crate::client::channels::USER_EVENTS
    UserEvents,
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
            (Self::Named(name), Event::Message(message)) => *name == message.name(),
            (Self::UserEvents, Event::Message(message)) => {
                crate::client::channels::USER_EVENTS.contains(&message.name())
            }
            _ => false,
        }
    }

    /// Called in the first pass, before the named listeners.
    fn is_catch_all(&self) -> bool {
        matches!(self, Self::Any | Self::UserEvents)
    }
}

/// The `running` marker for a one-shot ack callback (listener ids start at 1).
const ACK_CALLBACK: u64 = 0;

/// A listener: called with every event of its kind.
pub type Callback = Arc<dyn Fn(&Event) + Send + Sync>;
/// Runs once, after a listener's last callback.
pub type Finalizer = Box<dyn FnOnce() + Send>;

/// Runs a finalizer as if it were a callback (so library calls made from it never wait), catching
/// a panic.
pub fn run_finalizer(finalizer: Finalizer) {
    if !run_as_callback(finalizer) {
        eprintln!("realtime: a finalizer panicked");
    }
}

/// Runs user code as a callback (library calls made from it never wait: see [`in_callback`]),
/// catching a panic; false when it panicked.
fn run_as_callback(call: impl FnOnce()) -> bool {
    CALLBACK_DEPTH.with(|depth| depth.set(depth.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(call));
    CALLBACK_DEPTH.with(|depth| depth.set(depth.get() - 1));
    outcome.is_ok()
}

/// What a listener keeps alive while it can still be called; its finalizer runs when the last
/// reference goes (the table's, or a running call's).
struct Registered {
    callback: Callback,
    /// An opaque value the registering layer keeps with the listener (the C `user_data`).
    context: usize,
    finalizer: Mutex<Option<Finalizer>>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let finalizer = self.finalizer.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(finalizer) = finalizer {
            run_finalizer(finalizer);
        }
    }
}

struct Listener {
    id: u64,
    kind: EventKind,
    once: bool,
    /// A once-listener that has been called (or is being called): it matches nothing any more and
    /// leaves the table when its call returns.
    spent: bool,
    registered: Arc<Registered>,
}

/// The events side, shared with the IO threads.
#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    /// An empty deque with capacity, swapped in when a batch is taken.
    spare: VecDeque<Event>,
    /// On the executor's ready list, or being drained.
    scheduled: bool,
    /// The head event waits for a listener (initial hold).
    stalled: bool,
    closed: bool,
}

/// The listeners side, used by the callback thread and the registration calls.
#[derive(Default)]
struct Table {
    listeners: Vec<Listener>,
    /// The listener whose callback is running right now.
    running: Option<u64>,
    /// Threads waiting in remove_listener/close for `running` to change.
    waiters: usize,
    closed: bool,
}

/// One client's serial event queue and listener table.
pub struct Dispatcher {
    me: Weak<Dispatcher>,
    executor: Executor,
    queue: Mutex<Queue>,
    table: Mutex<Table>,
    idle: Condvar,
    /// Events with no listener yet wait (see the module documentation).
    held: AtomicBool,
    /// The connection's receive gate, discharged as events leave the queue.
    gate: OnceCell<Arc<ReceiveGate>>,
}

static NEXT_LISTENER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// How many callbacks are running on this thread (nested when a callback frees a client).
    static CALLBACK_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Whether the current thread is inside a callback (or a finalizer) of this library.
pub fn in_callback() -> bool {
    CALLBACK_DEPTH.with(Cell::get) > 0
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Dispatcher {
    /// A new queue on the next callback thread.
    #[cfg(test)]
    pub fn new() -> Arc<Self> {
        Self::with_executor(Executor::next_thread())
    }

    /// A new queue whose callbacks run on `executor`.
    pub fn with_executor(executor: Executor) -> Arc<Self> {
        let dispatcher = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            executor,
            queue: Mutex::new(Queue::default()),
            table: Mutex::new(Table::default()),
            idle: Condvar::new(),
            held: AtomicBool::new(true),
            gate: OnceCell::new(),
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

    /// Where this queue's callbacks run (a namespace opened from this client runs there too).
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Ends the initial hold: events without a listener are dropped from now on.
    pub fn release(&self) {
        if self.held.swap(false, Ordering::AcqRel) {
            self.unstall();
        }
    }

    /// Reschedules a queue whose head event waited for a listener.
    fn unstall(&self) {
        let mut queue = lock(&self.queue);
        if queue.stalled {
            queue.stalled = false;
            self.schedule(&mut queue);
        }
    }

    /// Puts the queue on its executor's ready list, unless it is there, stalled, closed or empty.
    /// Called with the queue lock held.
    fn schedule(&self, queue: &mut Queue) {
        if queue.scheduled || queue.stalled || queue.closed || queue.events.is_empty() {
            return;
        }
        if let Some(me) = self.me.upgrade() {
            queue.scheduled = true;
            if !self.executor.push(me) {
                // Nothing will ever run this queue (its poller was freed).
                queue.scheduled = false;
                let dropped = std::mem::take(&mut queue.events);
                self.discharge(dropped.iter());
            }
        }
    }

    /// Adds a listener and returns its id (> 0). A `once` listener runs at most once.
    #[cfg(test)]
    pub fn add_listener(&self, kind: EventKind, once: bool, callback: Callback) -> u64 {
        self.add_listener_with(kind, once, callback, 0, None)
    }

    /// Like [`Dispatcher::add_listener`], with a finalizer run exactly once after the listener's
    /// last callback. On a freed queue the finalizer runs at once and the id is still returned.
    pub fn add_listener_with(
        &self,
        kind: EventKind,
        once: bool,
        callback: Callback,
        context: usize,
        finalizer: Option<Finalizer>,
    ) -> u64 {
        let registered = Arc::new(Registered { callback, context, finalizer: Mutex::new(finalizer) });
        let id = {
            let mut table = lock(&self.table);
            // Ids are taken under the table lock, so the table is in id order.
            let id = NEXT_LISTENER_ID.fetch_add(1, Ordering::Relaxed);
            if table.closed {
                drop(table);
                drop(registered);
                return id;
            }
            table.listeners.push(Listener { id, kind, once, spent: false, registered });
            id
        };
        if self.held.load(Ordering::Acquire) {
            self.unstall();
        }
        id
    }

    /// Sets (or replaces) the finalizer of listener `id`, made from the listener's context. false
    /// when no listener has that id (it was removed, or it was a once-listener that ran).
    pub fn set_finalizer(&self, id: u64, make: impl FnOnce(usize) -> Finalizer) -> bool {
        let table = lock(&self.table);
        let Some(listener) = table.listeners.iter().find(|l| l.id == id) else {
            return false;
        };
        let old = lock(&listener.registered.finalizer).replace(make(listener.registered.context));
        drop(table);
        drop(old);
        true
    }

    /// Whether [`Dispatcher::close`] ran (the client was freed).
    pub fn is_closed(&self) -> bool {
        lock(&self.table).closed
    }

    /// Removes every catch-all listener; returns how many there were.
    /// Listeners registered now (once-listeners that ran are gone).
    pub fn listener_count(&self) -> usize {
        lock(&self.table).listeners.iter().filter(|l| !l.spent).count()
    }

    pub fn remove_any_listeners(&self) -> usize {
        let ids: Vec<u64> =
            lock(&self.table).listeners.iter().filter(|l| l.kind == EventKind::Any).map(|l| l.id).collect();
        ids.iter().filter(|id| self.remove_listener(**id)).count()
    }

    /// Removes a listener; it never starts again. Outside a callback, waits until it is no longer
    /// running (a once-listener that is running is still found, and waited for). Returns false when
    /// no listener has that id.
    pub fn remove_listener(&self, id: u64) -> bool {
        let mut table = lock(&self.table);
        let Some(index) = table.listeners.iter().position(|l| l.id == id) else {
            return false;
        };
        let removed = table.listeners.remove(index);
        if !in_callback() {
            while table.running == Some(id) {
                table.waiters += 1;
                table = self.idle.wait(table).unwrap_or_else(|poisoned| poisoned.into_inner());
                table.waiters -= 1;
            }
        }
        drop(table);
        // Its finalizer runs here, or after the running call (inside a callback) returns.
        drop(removed);
        true
    }

    /// Stops all delivery and drops the listeners. Outside a callback, waits until no callback of
    /// this queue is running; none starts afterwards.
    pub fn close(&self) {
        let dropped = {
            let mut queue = lock(&self.queue);
            queue.closed = true;
            std::mem::take(&mut queue.events)
        };
        let listeners = {
            let mut table = lock(&self.table);
            table.closed = true;
            let listeners = std::mem::take(&mut table.listeners);
            if !in_callback() {
                while table.running.is_some() {
                    table.waiters += 1;
                    table = self.idle.wait(table).unwrap_or_else(|poisoned| poisoned.into_inner());
                    table.waiters -= 1;
                }
            }
            listeners
        };
        self.discharge(dropped.iter());
        // Pending ack callbacks and listeners go, with their finalizers, after the last callback.
        drop(dropped);
        drop(listeners);
    }

    /// Drops every queued event (its executor will never run it).
    fn discard(&self) {
        let dropped = {
            let mut queue = lock(&self.queue);
            queue.scheduled = false;
            std::mem::take(&mut queue.events)
        };
        self.discharge(dropped.iter());
    }

    /// Gives the gate back what these events weighed.
    fn discharge<'a>(&self, events: impl Iterator<Item = &'a Event>) {
        if let Some(gate) = self.gate.get() {
            let (count, bytes) =
                events.filter_map(Event::flow_cost).fold((0, 0), |(count, bytes), cost| (count + 1, bytes + cost));
            gate.discharge(count, bytes);
        }
    }

    /// Whether an event can be delivered now, during the initial hold: an ack result, or an event
    /// with at least one listener.
    fn has_listener(&self, event: &Event) -> bool {
        matches!(event, Event::AckResult { .. })
            || lock(&self.table).listeners.iter().any(|l| !l.spent && l.kind.matches(event))
    }

    /// Runs on the executor's thread: delivers up to `budget` events, then gives the thread back
    /// (rescheduling itself when more wait). Returns how many events it handled.
    pub(super) fn drain(&self, budget: usize) -> usize {
        let mut batch = {
            let mut queue = lock(&self.queue);
            if queue.closed || queue.events.is_empty() {
                queue.scheduled = false;
                return 0;
            }
            let mut batch = std::mem::take(&mut queue.spare);
            if queue.events.len() <= budget {
                std::mem::swap(&mut queue.events, &mut batch);
            } else {
                batch.extend(queue.events.drain(..budget));
            }
            batch
        };
        let mut handled = 0;
        let (mut count, mut bytes) = (0usize, 0usize);
        let mut stalled = false;
        while let Some(event) = batch.pop_front() {
            if self.held.load(Ordering::Acquire) && !self.has_listener(&event) {
                batch.push_front(event);
                stalled = true;
                break;
            }
            let cost = event.flow_cost();
            let open = self.deliver_now(event);
            handled += 1;
            if let Some(cost) = cost {
                count += 1;
                bytes += cost;
                if count >= DISCHARGE_EVERY {
                    self.return_credit(&mut count, &mut bytes);
                }
            }
            if !open {
                break;
            }
        }
        self.return_credit(&mut count, &mut bytes);
        let mut queue = lock(&self.queue);
        let leftover = if queue.closed {
            std::mem::take(&mut batch)
        } else {
            // Events not handled (stalled head, or the budget) go back in front, in order.
            while let Some(event) = batch.pop_back() {
                queue.events.push_front(event);
            }
            VecDeque::new()
        };
        if batch.capacity() <= 4 * executor::BATCH {
            queue.spare = batch;
        }
        queue.scheduled = false;
        // A listener registered (or the hold ended) while this batch was decided on stalls nothing:
        // unstall() takes this lock after changing either, so this check sees the change or it
        // sees `stalled` set.
        queue.stalled = stalled
            && !queue.closed
            && self.held.load(Ordering::Acquire)
            && queue.events.front().is_some_and(|head| !self.has_listener(head));
        self.schedule(&mut queue);
        drop(queue);
        if !leftover.is_empty() {
            self.discharge(leftover.iter());
        }
        handled
    }

    fn return_credit(&self, count: &mut usize, bytes: &mut usize) {
        if let Some(gate) = self.gate.get() {
            gate.discharge(*count, *bytes);
        }
        *count = 0;
        *bytes = 0;
    }

    /// Calls the event's listeners (catch-all ones first, as socket.io-client does), each at most
    /// once, those registered when the event started. Returns false once the queue is closed.
    fn deliver_now(&self, event: Event) -> bool {
        if let Event::AckResult { callback, outcome } = event {
            if !self.begin_call(ACK_CALLBACK) {
                return false;
            }
            self.run_user_code(ACK_CALLBACK, false, move || callback(&outcome));
            return true;
        }
        // Listeners registered from here on (ids at or above `limit`) don't get this event.
        let limit = NEXT_LISTENER_ID.load(Ordering::Acquire);
        // Catch-all listeners first, then the named ones, each in registration order. One lock per
        // call: the lock that ends a call also picks the next listener.
        let (mut catch_all, mut after) = (true, 0u64);
        // The previous call's references: dropped with the lock released (a finalizer is user code).
        let mut released: (Option<Arc<Registered>>, Option<Listener>) = (None, None);
        let mut table = lock(&self.table);
        loop {
            if table.closed {
                drop(table);
                return false;
            }
            let next = table.listeners.iter_mut().find(|l| {
                l.id > after && l.id < limit && !l.spent && l.kind.is_catch_all() == catch_all && l.kind.matches(&event)
            });
            let Some(listener) = next else {
                if catch_all {
                    (catch_all, after) = (false, 0);
                    continue;
                }
                break;
            };
            if listener.once {
                listener.spent = true;
            }
            let (id, once, registered) = (listener.id, listener.once, Arc::clone(&listener.registered));
            table.running = Some(id);
            drop(table);
            // The finalizer runs here when off/free removed the listener during the previous call.
            drop(std::mem::take(&mut released));
            after = id;
            if !run_as_callback(|| (registered.callback)(&event)) {
                eprintln!("realtime: a callback panicked; delivery goes on");
            }
            table = lock(&self.table);
            let spent = self.end_call(&mut table, id, once);
            released = (Some(registered), spent);
        }
        drop(table);
        drop(released);
        true
    }

    /// Marks `id` as running unless the queue was closed.
    fn begin_call(&self, id: u64) -> bool {
        let mut table = lock(&self.table);
        if table.closed {
            return false;
        }
        table.running = Some(id);
        true
    }

    /// Runs a callback with no lock held, then clears the running mark (removing a once-listener)
    /// and wakes waiters.
    fn run_user_code(&self, id: u64, once: bool, call: impl FnOnce()) {
        if !run_as_callback(call) {
            eprintln!("realtime: a callback panicked; delivery goes on");
        }
        let mut table = lock(&self.table);
        let spent = self.end_call(&mut table, id, once);
        drop(table);
        drop(spent);
    }

    /// After call `id`: clears the running mark, takes a once-listener out of the table (to be
    /// dropped with the lock released: its finalizer is user code) and wakes off()'s waiters.
    fn end_call(&self, table: &mut Table, id: u64, once: bool) -> Option<Listener> {
        table.running = None;
        let spent = if once {
            table.listeners.iter().position(|l| l.id == id).map(|index| table.listeners.remove(index))
        } else {
            None
        };
        if table.waiters > 0 {
            self.idle.notify_all();
        }
        spent
    }
}

impl EventSink for Dispatcher {
    fn deliver(&self, event: Event) {
        let mut queue = lock(&self.queue);
        if queue.closed {
            drop(queue);
            self.discharge(std::iter::once(&event));
            return;
        }
        queue.events.push_back(event);
        self.schedule(&mut queue);
    }

    fn deliver_batch(&self, events: &mut Vec<Event>) {
        let mut queue = lock(&self.queue);
        if queue.closed {
            drop(queue);
            self.discharge(events.iter());
            events.clear();
            return;
        }
        queue.events.extend(events.drain(..));
        self.schedule(&mut queue);
    }

    fn attach_gate(&self, gate: Arc<ReceiveGate>) {
        let _ = self.gate.set(gate);
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
