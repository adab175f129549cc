//! The client: sockets (one per namespace) over a manager task that owns the connection.
//! Calls here never block on the network: they update shared state and send the task a command.

mod clock;
mod engine;
mod event;
mod manager;
pub mod options;
pub mod runtime;
mod socket;

pub use event::{Event, EventSink};
pub use options::{ClientOptions, Endpoint};

use crate::error::{Error, Result};
use crate::transport::TlsConfig;
use engine::EngineTarget;
use futures_util::FutureExt;
use manager::{Command, ManagerTask, ReconnectPolicy};
use socket::SocketShared;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A handle on one manager task. The task ends when the last handle is dropped.
struct ManagerHandle {
    commands: mpsc::UnboundedSender<Command>,
    next_key: AtomicU64,
}

impl ManagerHandle {
    fn start(endpoint: &Endpoint, options: &ClientOptions) -> Result<Arc<Self>> {
        let tls = if endpoint.secure {
            Some(TlsConfig::new(options.ca_file.as_deref()).map_err(Error::InvalidOptions)?)
        } else {
            None
        };
        let target = EngineTarget {
            url: endpoint.websocket_url(options),
            headers: options.extra_headers.clone(),
            tls,
            timeout: options.timeout,
        };
        let policy = ReconnectPolicy {
            enabled: options.reconnection,
            attempts: options.reconnection_attempts,
            delay: options.reconnection_delay,
            delay_max: options.reconnection_delay_max,
            randomization_factor: options.randomization_factor,
        };
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = ManagerTask::new(target, policy, receiver);
        runtime::runtime().spawn(async move {
            if AssertUnwindSafe(task.run()).catch_unwind().await.is_err() {
                eprintln!("realtime: internal error: the connection task panicked; the client is stopped");
            }
        });
        Ok(Arc::new(Self { commands, next_key: AtomicU64::new(1) }))
    }

    fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .map_err(|_| Error::Internal("the connection task has stopped".to_owned()))
    }
}

/// One socket: a namespace on a manager's connection, with its own id, state and events.
pub struct Socket {
    manager: Arc<ManagerHandle>,
    key: u64,
    shared: Arc<SocketShared>,
}

impl Socket {
    /// Creates a client for `url` (its path is the namespace) with a manager of its own. With
    /// `autoConnect` it starts connecting at once. Events go to `sink`.
    pub fn new(url: &str, options_json: Option<&str>, sink: Arc<dyn EventSink>) -> Result<Self> {
        let endpoint = Endpoint::parse(url)?;
        let options = ClientOptions::from_json(options_json)?;
        let manager = ManagerHandle::start(&endpoint, &options)?;
        let socket = Self::attach(manager, &endpoint.namespace, &options, sink)?;
        if options.auto_connect {
            socket.open()?;
        }
        Ok(socket)
    }

    fn attach(
        manager: Arc<ManagerHandle>,
        nsp: &str,
        options: &ClientOptions,
        sink: Arc<dyn EventSink>,
    ) -> Result<Self> {
        let key = manager.next_key.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(SocketShared::new(sink));
        manager.send(Command::Attach {
            key,
            nsp: nsp.to_owned(),
            auth: options.auth.clone(),
            shared: Arc::clone(&shared),
        })?;
        Ok(Self { manager, key, shared })
    }

    /// Connects (idempotent); re-enables reconnection after a close.
    pub fn open(&self) -> Result<()> {
        let generation = self.shared.next_generation(|_| None);
        self.manager.send(Command::Open { key: self.key, generation })
    }

    /// Disconnects (idempotent). If connected, `io client disconnect` is published before this returns.
    pub fn close(&self) -> Result<()> {
        let generation = self.shared.next_generation(|state| {
            if state.is_connected() {
                state.set_disconnected();
                Some(Event::Disconnect { reason: "io client disconnect".to_owned() })
            } else {
                None
            }
        });
        self.manager.send(Command::Close { key: self.key, generation })
    }

    pub fn is_connected(&self) -> bool {
        self.shared.is_connected()
    }

    pub fn id(&self) -> Option<String> {
        self.shared.id()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.shared.next_generation(|_| None);
        let _ = self.manager.send(Command::Detach { key: self.key });
    }
}
