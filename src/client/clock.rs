//! A clock that keeps counting while the device sleeps, for the heartbeat deadline.
//!
//! tokio's timers run on CLOCK_MONOTONIC, which stops during suspend on Linux and Android: a phone that
//! sleeps for ten minutes would otherwise wake up believing its dead connection is fine. The heartbeat
//! sleeps in short steps and compares against CLOCK_BOOTTIME, so a silent peer is noticed within a
//! step of waking up.

use std::time::Duration;

/// Milliseconds on a clock that includes time spent suspended (where the platform has one).
pub fn now_ms() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on every Linux ≥ 2.6.39.
        if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } == 0 {
            return (ts.tv_sec as u64).saturating_mul(1000).saturating_add(ts.tv_nsec as u64 / 1_000_000);
        }
    }
    static START: once_cell::sync::Lazy<std::time::Instant> = once_cell::sync::Lazy::new(std::time::Instant::now);
    START.elapsed().as_millis() as u64
}

/// The longest single sleep while waiting for a deadline.
const STEP: Duration = Duration::from_millis(1000);

/// Resolves once `now_ms() >= deadline_ms`. Cancel-safe.
pub async fn sleep_until_ms(deadline_ms: u64) {
    loop {
        let now = now_ms();
        if now >= deadline_ms {
            return;
        }
        tokio::time::sleep(Duration::from_millis(deadline_ms - now).min(STEP)).await;
    }
}
