//! A clock that keeps counting while the device sleeps, for the heartbeat deadline.
//!
//! tokio's timers run on CLOCK_MONOTONIC, which stops during suspend on Linux and Android: a phone that
//! sleeps for ten minutes would otherwise wake up believing its dead connection is fine. The heartbeat
//! sleeps in short steps and compares against CLOCK_BOOTTIME, so a silent peer is noticed within a
//! step of waking up.
//!
//! Connections do not poll that clock: each sleeps on a tokio timer until its deadline and also
//! waits on [`resumed`], which one process-wide task signals when CLOCK_BOOTTIME ran ahead of
//! CLOCK_MONOTONIC (the device slept); each connection then compares its deadline with [`now_ms`].
//! An idle connection wakes for the server's pings only, whatever the number of clients.

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

/// How often the process-wide watcher compares the two clocks.
const WATCH_STEP: Duration = Duration::from_millis(1000);

static RESUMED: once_cell::sync::Lazy<tokio::sync::Notify> = once_cell::sync::Lazy::new(|| {
    tokio::spawn(watch_suspend());
    tokio::sync::Notify::new()
});

/// Resolves when the device resumed from sleep (CLOCK_BOOTTIME jumped ahead of CLOCK_MONOTONIC).
/// The first call starts the watcher: call it from within the runtime.
pub fn resumed() -> tokio::sync::futures::Notified<'static> {
    RESUMED.notified()
}

async fn watch_suspend() {
    let drift = || now_ms() as i64 - monotonic_ms() as i64;
    let mut last = drift();
    loop {
        tokio::time::sleep(WATCH_STEP).await;
        let now = drift();
        if now - last > 500 {
            RESUMED.notify_waiters();
        }
        last = now;
    }
}

fn monotonic_ms() -> u64 {
    static START: once_cell::sync::Lazy<std::time::Instant> = once_cell::sync::Lazy::new(std::time::Instant::now);
    START.elapsed().as_millis() as u64
}
