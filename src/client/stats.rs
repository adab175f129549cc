//! Live counters of one connection (shared by its sockets) and of one socket, read by
//! `realtime_stats_json`. Written with relaxed atomics, once per batch of frames on the hot path
//! (never per event); read without a lock.

use super::clock;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// The connection's state, as the stats report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Not connected and not trying (before the first open, after close, after giving up).
    Idle = 0,
    /// An attempt is under way.
    Connecting = 1,
    Connected = 2,
    /// Waiting for the backoff delay before the next attempt.
    Waiting = 3,
}

const STATES: [LinkState; 4] = [LinkState::Idle, LinkState::Connecting, LinkState::Connected, LinkState::Waiting];

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Idle => "idle",
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Waiting => "waiting",
        }
    }
}

/// One connection's counters (the manager task and the engine write them).
#[derive(Debug)]
pub struct ConnectionStats {
    state: AtomicU8,
    /// When the current state began (BOOTTIME ms).
    since_ms: AtomicU64,
    /// Milliseconds spent in each state before the current one began.
    time_in: [AtomicU64; 4],
    pub connects: AtomicU64,
    pub reconnects: AtomicU64,
    pub failed_attempts: AtomicU64,
    pub packets_in: AtomicU64,
    pub frames_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_out: AtomicU64,
    last_disconnect: Mutex<Option<&'static str>>,
}

impl Default for ConnectionStats {
    fn default() -> Self {
        Self {
            state: AtomicU8::new(LinkState::Idle as u8),
            since_ms: AtomicU64::new(clock::now_ms()),
            time_in: Default::default(),
            connects: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            failed_attempts: AtomicU64::new(0),
            packets_in: AtomicU64::new(0),
            frames_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            packets_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            last_disconnect: Mutex::new(None),
        }
    }
}

impl ConnectionStats {
    /// The manager task's state changed (only it calls this, so no two changes race).
    pub fn set_state(&self, state: LinkState) {
        let old = self.state.load(Relaxed);
        if old == state as u8 {
            return;
        }
        let now = clock::now_ms();
        let since = self.since_ms.swap(now, Relaxed);
        self.time_in[old as usize].fetch_add(now.saturating_sub(since), Relaxed);
        self.state.store(state as u8, Relaxed);
    }

    pub fn disconnected(&self, reason: &'static str) {
        *self.last_disconnect.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }

    pub fn received(&self, packets: usize, frames: usize, bytes: usize) {
        self.packets_in.fetch_add(packets as u64, Relaxed);
        self.frames_in.fetch_add(frames as u64, Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
    }

    pub fn sent(&self, packets: usize, bytes: usize) {
        if packets > 0 {
            self.packets_out.fetch_add(packets as u64, Relaxed);
            self.bytes_out.fetch_add(bytes as u64, Relaxed);
        }
    }

    pub fn state(&self) -> LinkState {
        STATES[self.state.load(Relaxed) as usize % STATES.len()]
    }

    /// Milliseconds in the current state, and in each state in all (the current stretch included).
    pub fn times(&self) -> (u64, [(LinkState, u64); 4]) {
        let now = clock::now_ms();
        let state = self.state();
        let current = now.saturating_sub(self.since_ms.load(Relaxed));
        let totals = STATES.map(|s| {
            let past = self.time_in[s as usize].load(Relaxed);
            (s, if s == state { past + current } else { past })
        });
        (current, totals)
    }

    pub fn last_disconnect(&self) -> Option<&'static str> {
        *self.last_disconnect.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One socket's counters (its namespace slot writes them).
#[derive(Debug)]
pub struct SocketStats {
    pub pending_acks: AtomicUsize,
    pub acks_answered: AtomicU64,
    /// The latest ack round trip in microseconds (`u64::MAX`: none measured yet).
    pub last_ack_rtt_us: AtomicU64,
    pub emits: AtomicU64,
}

impl Default for SocketStats {
    fn default() -> Self {
        Self {
            pending_acks: AtomicUsize::new(0),
            acks_answered: AtomicU64::new(0),
            last_ack_rtt_us: AtomicU64::new(u64::MAX),
            emits: AtomicU64::new(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_in_each_state_adds_up() {
        let stats = ConnectionStats::default();
        stats.set_state(LinkState::Connecting);
        stats.set_state(LinkState::Connected);
        stats.set_state(LinkState::Connected);
        let (current, totals) = stats.times();
        assert_eq!(stats.state(), LinkState::Connected);
        assert!(totals.iter().all(|(_, ms)| *ms < 60_000));
        assert!(totals[LinkState::Connected as usize].1 >= current);
    }
}
