//! The one tokio runtime every client of the process shares: started on first use, two IO threads.

use once_cell::sync::Lazy;
use tokio::runtime::Runtime;

/// Worker threads of the shared runtime, whatever the number of clients.
pub const IO_THREADS: usize = 2;

static RUNTIME: Lazy<Runtime> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(IO_THREADS)
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
