//! Where a client's callbacks run: one of the process's callback threads (each client stays on the
//! one it was given), or the application's own thread through a [`Poller`] (poll mode).
//!
//! A [`Dispatcher`] with events to deliver puts itself on its executor's ready list once (its
//! `scheduled` flag), however many events it holds; the executor's thread drains a batch of them.
//! A sleeping callback thread is woken (one condvar signal) only when its ready list goes from
//! empty to non-empty while it sleeps; a poller's file descriptor is signalled once per such
//! transition.

use super::Dispatcher;
use once_cell::sync::OnceCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Callback threads when neither realtime_runtime_configure() nor `REALTIME_CALLBACK_THREADS` says.
pub const DEFAULT_CALLBACK_THREADS: usize = 2;
/// The most callback threads a process may ask for.
pub const MAX_CALLBACK_THREADS: usize = 64;
/// Events one dispatcher delivers before the next ready dispatcher of its thread gets a turn.
pub const BATCH: usize = 256;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a dispatcher runs on.
#[derive(Clone)]
pub enum Executor {
    /// Callback thread number `n`.
    Thread(usize),
    /// The application's loop.
    Poller(Arc<Poller>),
}

impl Executor {
    /// The next callback thread, round robin: clients spread over the threads and stay there.
    pub fn next_thread() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let threads = workers().len();
        Self::Thread(NEXT.fetch_add(1, Ordering::Relaxed) % threads)
    }

    /// Puts a dispatcher on the ready list. false when nothing will ever run it (a freed poller):
    /// the caller then drops its events.
    pub(super) fn push(&self, dispatcher: Arc<Dispatcher>) -> bool {
        match self {
            Self::Thread(n) => {
                workers()[*n].push(dispatcher);
                true
            }
            Self::Poller(poller) => poller.push(dispatcher),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Process configuration

static CONFIGURED_CALLBACK_THREADS: AtomicUsize = AtomicUsize::new(0);
static WORKERS: OnceCell<Vec<Worker>> = OnceCell::new();

/// Sets the number of callback threads for the process (0: the default). Fails once they started.
pub fn configure_callback_threads(threads: usize) -> Result<(), usize> {
    if let Some(workers) = WORKERS.get() {
        return if threads == 0 || threads == workers.len() { Ok(()) } else { Err(workers.len()) };
    }
    CONFIGURED_CALLBACK_THREADS.store(threads.min(MAX_CALLBACK_THREADS), Ordering::Release);
    Ok(())
}

/// How many callback threads start: realtime_runtime_configure(), else `REALTIME_CALLBACK_THREADS`,
/// else [`DEFAULT_CALLBACK_THREADS`].
fn callback_thread_count() -> usize {
    let configured = CONFIGURED_CALLBACK_THREADS.load(Ordering::Acquire);
    if configured > 0 {
        return configured;
    }
    std::env::var("REALTIME_CALLBACK_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(DEFAULT_CALLBACK_THREADS, |n| n.min(MAX_CALLBACK_THREADS))
}

fn workers() -> &'static [Worker] {
    WORKERS.get_or_init(|| {
        let workers: Vec<Worker> = (0..callback_thread_count()).map(|_| Worker::default()).collect();
        workers
    });
    let workers = WORKERS.get().expect("initialised above");
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        for index in 0..workers.len() {
            std::thread::Builder::new()
                .name(format!("realtime-cb-{index}"))
                .spawn(move || WORKERS.get().expect("started")[index].run())
                .expect("cannot start a realtime callback thread");
        }
    });
    workers
}

// ---------------------------------------------------------------------------------------------------
// Callback threads

#[derive(Default)]
struct ReadyList {
    dispatchers: VecDeque<Arc<Dispatcher>>,
    /// The thread waits on the condvar (so a push must signal it).
    sleeping: bool,
}

#[derive(Default)]
struct Worker {
    ready: Mutex<ReadyList>,
    wake: Condvar,
}

impl Worker {
    fn push(&self, dispatcher: Arc<Dispatcher>) {
        let mut ready = lock(&self.ready);
        ready.dispatchers.push_back(dispatcher);
        if ready.sleeping {
            ready.sleeping = false;
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        loop {
            let dispatcher = {
                let mut ready = lock(&self.ready);
                loop {
                    if let Some(dispatcher) = ready.dispatchers.pop_front() {
                        break dispatcher;
                    }
                    ready.sleeping = true;
                    ready = self.wake.wait(ready).unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            };
            dispatcher.drain(BATCH);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Poll mode

#[derive(Default)]
struct PollList {
    dispatchers: VecDeque<Arc<Dispatcher>>,
    /// The descriptor is readable (written since the last time the list was found empty).
    signalled: bool,
    closed: bool,
}

/// A set of clients whose callbacks run on the application's thread, inside [`Poller::poll`];
/// [`Poller::fd`] becomes readable when something is due.
pub struct Poller {
    ready: Mutex<PollList>,
    signal: Signal,
}

impl Poller {
    pub fn new() -> std::io::Result<Arc<Self>> {
        Ok(Arc::new(Self { ready: Mutex::new(PollList::default()), signal: Signal::new()? }))
    }

    /// The descriptor to wait on for readability.
    pub fn fd(&self) -> i32 {
        self.signal.read_fd()
    }

    fn push(&self, dispatcher: Arc<Dispatcher>) -> bool {
        let mut ready = lock(&self.ready);
        if ready.closed {
            return false;
        }
        ready.dispatchers.push_back(dispatcher);
        if !ready.signalled {
            ready.signalled = true;
            self.signal.raise();
        }
        true
    }

    /// Runs up to `max_events` due events' callbacks on this thread; returns how many events were
    /// handled. Returns at once when nothing is due; the descriptor stays readable while
    /// something is.
    pub fn poll(&self, max_events: usize) -> usize {
        let mut handled = 0;
        while handled < max_events {
            let dispatcher = {
                let mut ready = lock(&self.ready);
                match ready.dispatchers.pop_front() {
                    Some(dispatcher) => dispatcher,
                    None => {
                        if ready.signalled {
                            ready.signalled = false;
                            self.signal.clear();
                        }
                        break;
                    }
                }
            };
            handled += dispatcher.drain((max_events - handled).min(BATCH));
        }
        handled
    }

    /// No client's events are delivered through this poller any more; those queued are dropped.
    pub fn close(&self) {
        let dispatchers = {
            let mut ready = lock(&self.ready);
            ready.closed = true;
            std::mem::take(&mut ready.dispatchers)
        };
        for dispatcher in dispatchers {
            dispatcher.discard();
        }
    }
}

/// A readable-when-raised descriptor: an eventfd on Linux and Android, a pipe elsewhere.
struct Signal {
    read: i32,
    write: i32,
}

impl Signal {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn new() -> std::io::Result<Self> {
        // SAFETY: plain syscall; the descriptor is owned by the returned value.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self { read: fd, write: fd })
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn new() -> std::io::Result<Self> {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for fd in fds {
            // SAFETY: descriptors just created and owned here.
            unsafe {
                libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK);
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        Ok(Self { read: fds[0], write: fds[1] })
    }

    fn read_fd(&self) -> i32 {
        self.read
    }

    fn raise(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to a descriptor owned by self (a full pipe or a
        // saturated eventfd already reads as readable, so a failed write loses nothing).
        let _ = unsafe { libc::write(self.write, std::ptr::addr_of!(one).cast(), 8) };
    }

    fn clear(&self) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reads into a live buffer from a non-blocking descriptor owned by self.
            let n = unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 || self.read == self.write {
                break;
            }
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // SAFETY: the descriptors are owned by self and closed once.
        unsafe {
            libc::close(self.read);
            if self.write != self.read {
                libc::close(self.write);
            }
        }
    }
}
