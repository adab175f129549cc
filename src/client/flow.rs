//! Receive flow control: the bound on events (and bytes) that a connection has handed to its
//! consumers (dispatchers, poll-mode contexts) and that no callback has taken yet.
//!
//! The IO side [`ReceiveGate::charge`]s every event whose [`Event::flow_cost`] is `Some`, and before
//! reading the next frames it checks [`ReceiveGate::is_full`]; when full it stops reading the socket
//! (TCP backpressure to the server) and awaits [`ReceiveGate::wait_open`]. The consumer
//! [`ReceiveGate::discharge`]s the same cost once the event's callbacks ran (or the event was dropped
//! because its client was freed). Atomics only: no lock, no allocation per event.
//!
//! One gate per connection, shared by the sockets (namespaces) on it: a slow consumer of any of them
//! pauses the socket for all, which is what a single TCP stream can do.
//!
//! [`Event::flow_cost`]: super::Event::flow_cost

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// Default bound on events waiting for callbacks, per connection (`maxPendingEvents`).
pub const DEFAULT_MAX_PENDING_EVENTS: usize = 4096;
/// Default bound on the bytes of those events (`maxPendingBytes`).
pub const DEFAULT_MAX_PENDING_BYTES: usize = 8 << 20;

#[derive(Debug)]
pub struct ReceiveGate {
    events: AtomicUsize,
    bytes: AtomicUsize,
    max_events: usize,
    max_bytes: usize,
    /// The IO side is (about to be) waiting in `wait_open`.
    waiting: AtomicBool,
    opened: Notify,
}

impl ReceiveGate {
    /// A gate that is full at `max_events` events or `max_bytes` bytes (each at least 1).
    pub fn new(max_events: usize, max_bytes: usize) -> Self {
        Self {
            events: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
            waiting: AtomicBool::new(false),
            opened: Notify::new(),
        }
    }

    /// IO side: one event of `bytes` bytes was handed to a consumer (tests; the IO side charges batches).
    #[cfg(test)]
    pub fn charge(&self, bytes: usize) {
        self.events.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// IO side: `events` events of `bytes` bytes in total were handed to a consumer (one batch).
    pub fn charge_many(&self, events: usize, bytes: usize) {
        if events == 0 {
            return;
        }
        self.events.fetch_add(events, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Consumer side: `events` events of `bytes` bytes in total left the queue (callbacks ran, or
    /// the events were dropped). Wakes the IO side once the backlog is down to half the bound, so
    /// a paused reader resumes in one step per half-bound, not per event.
    pub fn discharge(&self, events: usize, bytes: usize) {
        if events == 0 && bytes == 0 {
            return;
        }
        let left_events = self.events.fetch_sub(events, Ordering::AcqRel).saturating_sub(events);
        let left_bytes = self.bytes.fetch_sub(bytes, Ordering::AcqRel).saturating_sub(bytes);
        if left_events <= self.max_events / 2
            && left_bytes <= self.max_bytes / 2
            && self.waiting.swap(false, Ordering::AcqRel)
        {
            self.opened.notify_waiters();
        }
    }

    /// Whether the IO side must stop reading.
    pub fn is_full(&self) -> bool {
        self.events.load(Ordering::Acquire) >= self.max_events || self.bytes.load(Ordering::Acquire) >= self.max_bytes
    }

    /// Events and bytes waiting for callbacks now (stats, tests).
    pub fn backlog(&self) -> (usize, usize) {
        (self.events.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed))
    }

    /// IO side: resolves once the gate is open (at once if it is). Cancel-safe.
    pub async fn wait_open(&self) {
        loop {
            let notified = self.opened.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.waiting.store(true, Ordering::Release);
            if !self.is_full() {
                self.waiting.store(false, Ordering::Release);
                return;
            }
            notified.await;
        }
    }
}

/// Default bound on bytes queued for the socket while connected (`maxQueuedBytes`).
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 4 << 20;

/// Send flow control: the bytes of emits accepted while connected and not yet handed to the OS
/// (in the command channel, in the connection's write queue, or written but not flushed). The
/// application's emit reserves its bytes synchronously and is refused (`WouldBlock`) beyond the
/// bound; the write loop releases them once the frames are flushed to the socket.
#[derive(Debug)]
pub struct SendGate {
    queued: AtomicUsize,
    max: usize,
}

impl SendGate {
    pub fn new(max: usize) -> Self {
        Self { queued: AtomicUsize::new(0), max: max.max(1) }
    }

    /// Reserves `bytes`, or refuses with the bytes queued now when that would pass the bound. An
    /// emit larger than the bound still goes through when nothing is queued (or it could never).
    pub fn try_reserve(&self, bytes: usize) -> Result<(), usize> {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued == 0 || queued.saturating_add(bytes) <= self.max).then(|| queued.saturating_add(bytes))
            })
            .map(|_| ())
    }

    /// Counts `bytes` without checking the bound (frames the library itself queues: the offline
    /// buffer flushed after a CONNECT, pongs, CONNECT packets).
    pub fn charge(&self, bytes: usize) {
        self.queued.fetch_add(bytes, Ordering::AcqRel);
    }

    /// `bytes` were handed to the OS, or will never be (dropped, moved to the offline buffer).
    pub fn release(&self, bytes: usize) {
        if bytes > 0 {
            let _ = self.queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| Some(q.saturating_sub(bytes)));
        }
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn fills_and_opens_at_half_the_bound() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let gate = Arc::new(ReceiveGate::new(4, 1 << 20));
        for _ in 0..4 {
            gate.charge(10);
        }
        assert!(gate.is_full());
        let waiter = Arc::clone(&gate);
        rt.block_on(async move {
            let task = tokio::spawn(async move { waiter.wait_open().await });
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!task.is_finished(), "the gate opened while full");
            gate.discharge(1, 10);
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!task.is_finished(), "woke above half the bound");
            gate.discharge(1, 10);
            tokio::time::timeout(Duration::from_secs(5), task).await.expect("woken at half").unwrap();
            assert_eq!(gate.backlog(), (2, 20));
        });
    }

    #[test]
    fn send_gate_refuses_beyond_the_bound_and_reopens() {
        let gate = SendGate::new(100);
        assert_eq!(gate.try_reserve(60), Ok(()));
        assert_eq!(gate.try_reserve(40), Ok(()));
        assert_eq!(gate.try_reserve(1), Err(100), "nothing may pass the bound");
        assert_eq!(gate.queued(), 100, "a refused reservation counts nothing");
        gate.release(60);
        assert_eq!(gate.try_reserve(50), Ok(()));
        gate.release(90);
        assert_eq!(gate.try_reserve(500), Ok(()), "an oversized emit passes an empty queue");
        assert_eq!(gate.try_reserve(1), Err(500));
        gate.release(10_000);
        assert_eq!(gate.queued(), 0, "release saturates");
    }
}
