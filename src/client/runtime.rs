//! The one tokio runtime every client of the process shares: started on first use, with a fixed
//! number of IO threads (2 unless realtime_runtime_configure() or `REALTIME_IO_THREADS` says).

use once_cell::sync::{Lazy, OnceCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::runtime::Runtime;

/// IO threads when nothing else is configured, whatever the number of clients.
pub const IO_THREADS: usize = 2;
/// The most IO threads a process may ask for.
pub const MAX_IO_THREADS: usize = 64;

static CONFIGURED_IO_THREADS: AtomicUsize = AtomicUsize::new(0);
static STARTED_IO_THREADS: OnceCell<usize> = OnceCell::new();

/// Sets the number of IO threads (0: the default). Fails with the running count once started.
pub fn configure_io_threads(threads: usize) -> Result<(), usize> {
    if let Some(started) = STARTED_IO_THREADS.get() {
        return if threads == 0 || threads == *started { Ok(()) } else { Err(*started) };
    }
    CONFIGURED_IO_THREADS.store(threads.min(MAX_IO_THREADS), Ordering::Release);
    Ok(())
}

fn io_thread_count() -> usize {
    let configured = CONFIGURED_IO_THREADS.load(Ordering::Acquire);
    if configured > 0 {
        return configured;
    }
    std::env::var("REALTIME_IO_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(IO_THREADS, |n| n.min(MAX_IO_THREADS))
}

static RUNTIME: Lazy<Runtime> = Lazy::new(|| {
    let threads = *STARTED_IO_THREADS.get_or_init(io_thread_count);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("realtime-io")
        .max_blocking_threads(2) // nothing runs there: names resolve on the transport's own pool
        .enable_io()
        .enable_time()
        .build()
        .expect("cannot start the realtime IO runtime")
});

pub fn runtime() -> &'static Runtime {
    &RUNTIME
}
