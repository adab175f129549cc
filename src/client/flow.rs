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

    /// IO side: one event of `bytes` bytes was handed to a consumer.
    pub fn charge(&self, bytes: usize) {
        self.events.fetch_add(1, Ordering::Relaxed);
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

    /// Events and bytes waiting for callbacks now (for stats and tests).
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
}
