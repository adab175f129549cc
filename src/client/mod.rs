//! The client: sockets (one per namespace) over a manager task that owns the connection.
//! Calls here never block on the network: they check and update shared state synchronously (so
//! errors are immediate) and send the task a command.

pub mod channels;
mod clock;
mod engine;
mod event;
pub mod flow;
mod manager;
mod namespace;
pub mod options;
pub mod runtime;
mod socket;
pub(crate) mod stats;

pub use event::{AckCallback, AckOutcome, Event, EventSink, MessageStatus, StatusSink};
pub use options::{ClientOptions, Endpoint};

use crate::error::{Error, Result};
use crate::protocol::socketio::{is_reserved_event, validate_outgoing, MAX_ATTACHMENTS};
use crate::transport::{EnvironmentProxies, Proxy, TlsConfig, TlsSettings, TransportState};
use engine::{ConnectionGates, EngineEndpoint, EngineTarget};
use flow::{ReceiveGate, SendGate};
use futures_util::FutureExt;
pub use manager::AuthProvider;
use manager::{Command, ManagerTask, ReconnectPolicy};
use namespace::{ChannelCommand, EmitCommand, SocketConfig};
use serde_json::Value;
use socket::{Admission, SocketLimits, SocketShared};
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// A handle on one manager task. The task ends when the last handle is dropped.
struct ManagerHandle {
    commands: mpsc::UnboundedSender<Box<Command>>,
    next_key: AtomicU64,
    /// Namespaces attached to this connection (one socket each).
    namespaces: Mutex<HashSet<String>>,
    /// The receive and send bounds of this connection (and its successors after reconnects).
    gates: ConnectionGates,
    /// The transport in use now.
    transport: Arc<TransportState>,
    /// The servers and which one is current (failover), shared with the task.
    target: Arc<EngineTarget>,
}

impl ManagerHandle {
    fn start(endpoint: &Endpoint, options: &ClientOptions) -> Result<Arc<Self>> {
        // The client's URL, then the failover URLs: same path, query and namespace, other servers.
        let mut endpoints = vec![endpoint.clone()];
        for (index, url) in options.failover_urls.iter().enumerate() {
            let other =
                Endpoint::parse(url).map_err(|e| Error::InvalidOptions(format!("failoverUrls[{index}]: {e}")))?;
            if other.namespace != "/" {
                return Err(Error::InvalidOptions(format!(
                    "failoverUrls[{index}]: {url:?} has a path; the namespace comes from the client's URL"
                )));
            }
            // The client URL's query goes along unless the failover URL has its own.
            let query = if other.query.is_empty() { endpoint.query.clone() } else { other.query };
            endpoints.push(Endpoint { namespace: endpoint.namespace.clone(), query, ..other });
        }
        // Built (and every file read) whatever the scheme, so a bad TLS option is an error at once.
        let settings = TlsSettings {
            trust_store: options.trust_store,
            ca_file: options.ca_file.as_deref(),
            pins: &options.pinned_public_keys,
            client_cert_file: options.client_cert_file.as_deref(),
            client_key_file: options.client_key_file.as_deref(),
        };
        let any_secure = endpoints.iter().any(|e| e.secure);
        let tls = if any_secure || settings != TlsSettings::default() {
            Some(TlsConfig::new(&settings).map_err(Error::InvalidOptions)?)
        } else {
            None
        };
        // An explicit `proxy` wins; the environment only when asked for and `proxy` is unset.
        let explicit_proxy = options.proxy.as_deref().map(Proxy::parse).transpose().map_err(Error::InvalidOptions)?;
        let environment =
            (explicit_proxy.is_none() && options.proxy_from_environment).then(EnvironmentProxies::from_environment);
        let mut targets = Vec::with_capacity(endpoints.len());
        for endpoint in &endpoints {
            let proxy = match (&explicit_proxy, &environment) {
                (Some(proxy), _) => Some(proxy.clone()),
                (None, Some(environment)) => {
                    let (host, port) = endpoint.host_port();
                    environment.proxy_for(&host, port, endpoint.secure).map_err(Error::InvalidOptions)?
                }
                (None, None) => None,
            };
            targets.push(EngineEndpoint {
                url: endpoint.websocket_url(options),
                tls: tls.clone().filter(|_| endpoint.secure),
                proxy,
            });
        }
        let transport = Arc::new(TransportState::default());
        let target = EngineTarget {
            endpoints: targets,
            current: std::sync::atomic::AtomicUsize::new(0),
            headers: options.extra_headers.clone(),
            timeout: options.timeout,
            plan: options.transports.clone(),
            state: Arc::clone(&transport),
        };
        let policy = ReconnectPolicy {
            enabled: options.reconnection,
            attempts: options.reconnection_attempts,
            delay: options.reconnection_delay,
            delay_max: options.reconnection_delay_max,
            randomization_factor: options.randomization_factor,
        };
        let gates = ConnectionGates {
            receive: Arc::new(ReceiveGate::new(options.max_pending_events, options.max_pending_bytes)),
            send: Arc::new(SendGate::new(options.max_queued_bytes)),
            stats: Arc::new(stats::ConnectionStats::default()),
        };
        let (commands, receiver) = mpsc::unbounded_channel();
        let target = Arc::new(target);
        let task = ManagerTask::new(Arc::clone(&target), policy, receiver, gates.clone());
        runtime::runtime().spawn(async move {
            if AssertUnwindSafe(task.run()).catch_unwind().await.is_err() {
                eprintln!("realtime: internal error: the connection task panicked; the client is stopped");
            }
        });
        Ok(Arc::new(Self {
            commands,
            next_key: AtomicU64::new(1),
            namespaces: Mutex::new(HashSet::new()),
            gates,
            transport,
            target,
        }))
    }

    fn send(&self, command: Command) -> Result<()> {
        self.commands.send(Box::new(command)).map_err(|_| Error::Internal("the connection task has stopped".to_owned()))
    }
}

/// What to emit.
pub struct EmitRequest {
    pub name: String,
    /// The arguments as a JSON array text, sent as written; binary ones as
    /// `{"_placeholder":true,"num":i}` referring to `attachments[i]`.
    pub args: String,
    pub attachments: Vec<Vec<u8>>,
    /// Dropped instead of buffered while not connected.
    pub volatile: bool,
    pub ack: Option<AckCallback>,
    /// The ack's timeout; `None` uses the `ackTimeout` option (and without it, waits indefinitely).
    pub timeout: Option<Duration>,
    /// A tracked emit (realtime_emit_tracked): `timeout` is its time to live, this gets its statuses.
    pub tracked: Option<StatusSink>,
}

/// One socket: a namespace on a manager's connection, with its own id, state and events.
pub struct Socket {
    manager: Arc<ManagerHandle>,
    key: u64,
    nsp: String,
    shared: Arc<SocketShared>,
    auto_join_channels: bool,
    buffer_messages: bool,
    /// Agnost's API server, for members (`apiBaseUrl`).
    members_api: Option<Arc<channels::MembersApi>>,
    /// The `authTimeout` option: how long the auth provider may take.
    auth_timeout: Duration,
}

impl Socket {
    /// Creates a client for `url` (its path is the namespace) with a manager of its own. With
    /// `autoConnect` it starts connecting at once. Events go to `sink`.
    pub fn new(url: &str, options_json: Option<&str>, sink: Arc<dyn EventSink>) -> Result<Self> {
        let endpoint = Endpoint::parse(url)?;
        let options = ClientOptions::from_json(options_json)?;
        let manager = ManagerHandle::start(&endpoint, &options)?;
        Self::attach(manager, &endpoint.namespace, &options, sink)
    }

    /// Opens namespace `nsp` on this socket's connection (socket.io-client's `manager.socket(nsp)`),
    /// with socket options only (`auth`, `autoConnect`, `ackTimeout`, `retries`, …).
    pub fn namespace(&self, nsp: &str, options_json: Option<&str>, sink: Arc<dyn EventSink>) -> Result<Self> {
        if !nsp.starts_with('/') {
            return Err(Error::InvalidArgument(format!("namespace {nsp:?} must start with '/'")));
        }
        let options = ClientOptions::socket_options_from_json(options_json)?;
        Self::attach(Arc::clone(&self.manager), nsp, &options, sink)
    }

    fn attach(
        manager: Arc<ManagerHandle>,
        nsp: &str,
        options: &ClientOptions,
        sink: Arc<dyn EventSink>,
    ) -> Result<Self> {
        if !manager.namespaces.lock().unwrap_or_else(|p| p.into_inner()).insert(nsp.to_owned()) {
            return Err(Error::NamespaceInUse(nsp.to_owned()));
        }
        let members_api = channels::MembersApi::from_options(options)?.map(Arc::new);
        let key = manager.next_key.fetch_add(1, Ordering::Relaxed);
        let limits = SocketLimits { max_buffered: options.max_buffered_emits, queued: options.retries.is_some() };
        sink.attach_gate(Arc::clone(&manager.gates.receive));
        let shared = Arc::new(SocketShared::new(sink, limits));
        let config = SocketConfig {
            nsp: nsp.to_owned(),
            auth: options.auth.clone(),
            ack_timeout: options.ack_timeout,
            retries: options.retries,
            echo_messages: options.echo_messages,
            auto_join_channels: options.auto_join_channels,
        };
        let socket = Self {
            manager,
            key,
            nsp: nsp.to_owned(),
            shared: Arc::clone(&shared),
            auto_join_channels: options.auto_join_channels,
            buffer_messages: options.buffer_messages,
            members_api,
            auth_timeout: options.auth_timeout,
        };
        socket.manager.send(Command::Attach { key, config, shared })?;
        if options.auto_connect {
            socket.open()?;
        }
        Ok(socket)
    }

    /// Connects (idempotent); re-enables reconnection after a close.
    pub fn open(&self) -> Result<()> {
        let key = self.key;
        self.shared.change(
            |state| {
                state.set_active(true);
                None
            },
            |generation| self.manager.send(Command::Open { key, generation }),
        )
    }

    /// Disconnects (idempotent). If connected, `io client disconnect` is published before this returns.
    pub fn close(&self) -> Result<()> {
        let key = self.key;
        self.shared.change(
            |state| {
                if !state.set_active(false) || !state.is_connected() {
                    return None;
                }
                state.set_disconnected();
                Some(Event::Disconnect { reason: "io client disconnect".to_owned() })
            },
            |generation| self.manager.send(Command::Close { key, generation }),
        )
    }

    pub fn is_connected(&self) -> bool {
        self.shared.is_connected()
    }

    /// Drops the connection (shared by every namespace on it) and connects again at once.
    pub fn reconnect_now(&self) -> Result<()> {
        self.manager.send(Command::ReconnectNow)
    }

    pub fn id(&self) -> Option<String> {
        self.shared.id()
    }

    /// Whether the current connection recovered the previous session (connection state recovery).
    /// Sets the auth provider (or removes it with `None`): asked before each CONNECT of this socket
    /// from the next one on; its answers replace the `auth` option.
    pub fn set_auth_provider(&self, provider: Option<AuthProvider>) -> Result<()> {
        self.manager.send(Command::AuthProvider { key: self.key, provider, timeout: self.auth_timeout })
    }

    /// Answers auth request `request` with `auth` (a JSON object), or declines with `None`. An answer
    /// to a request that is no longer waiting (timed out, or its connection is gone) is ignored.
    pub fn auth_reply(&self, request: u64, auth: Option<serde_json::Map<String, Value>>) -> Result<()> {
        self.manager.send(Command::AuthReply { key: self.key, request, auth })
    }

    /// The transport of the open connection (`websocket` or `polling`), or `None` when there is none.
    pub fn transport_name(&self) -> Option<&'static str> {
        self.manager.transport.active().map(|kind| kind.name())
    }

    pub fn is_recovered(&self) -> bool {
        self.shared.is_recovered()
    }

    /// Emits an event: sent now when connected, buffered (bounded) otherwise, dropped if volatile.
    pub fn emit(&self, request: EmitRequest) -> Result<()> {
        if is_reserved_event(&request.name) {
            return Err(Error::ReservedEvent(request.name));
        }
        self.check_payload(&request.args, request.name.len() + 8, &request.attachments)?;
        let (counted, reserved) = match self.shared.admit_emit(request.volatile) {
            Ok(Admission::Drop) => {
                log::debug!("volatile emit {:?} dropped: not connected", request.name);
                return Ok(());
            }
            Ok(Admission::Send) => {
                let cost = 16 + request.name.len() + request.args.len();
                let cost = cost + request.attachments.iter().map(Vec::len).sum::<usize>();
                let gate = &self.manager.gates.send;
                match gate.try_reserve(cost) {
                    Ok(()) => (false, cost),
                    // socket.io-client drops a volatile emit the transport cannot take now.
                    Err(_) if request.volatile => {
                        log::debug!("volatile emit {:?} dropped: the send queue is full", request.name);
                        return Ok(());
                    }
                    Err(queued) => return Err(Error::WouldBlock { queued, max: gate.max() }),
                }
            }
            Ok(Admission::Counted) => (true, 0),
            Err(buffered) => {
                log::warn!("emit {:?} refused: {buffered} emits wait offline (maxBufferedEmits)", request.name);
                return Err(Error::BufferFull(buffered));
            }
        };
        let emit = EmitCommand { request, counted, reserved };
        let sent = self.manager.send(Command::Emit { key: self.key, emit });
        if sent.is_err() {
            self.manager.gates.send.release(reserved);
        } else {
            self.shared.stats.emits.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// A snapshot of the live counters, as a JSON object (realtime_stats_json adds the listeners).
    pub fn stats(&self) -> serde_json::Map<String, Value> {
        let connection = &self.manager.gates.stats;
        let socket = &self.shared.stats;
        let (in_state, totals) = connection.times();
        let (backlog_events, backlog_bytes) = self.manager.gates.receive.backlog();
        let rtt = socket.last_ack_rtt_us.load(Ordering::Relaxed);
        let mut time_in = serde_json::Map::new();
        for (state, ms) in totals {
            time_in.insert(state.name().to_owned(), ms.into());
        }
        let load = |counter: &AtomicU64| Value::from(counter.load(Ordering::Relaxed));
        let value = serde_json::json!({
            "version": 1,
            "state": connection.state().name(),
            "connected": self.shared.is_connected(),
            "namespace": self.nsp,
            "msInState": in_state,
            "msInEachState": time_in,
            "connects": load(&connection.connects),
            "reconnects": load(&connection.reconnects),
            "failedAttempts": load(&connection.failed_attempts),
            "lastDisconnectReason": connection.last_disconnect(),
            "transport": self.transport_name(),
            "url": self.manager.target.current_origin(),
            "packetsIn": load(&connection.packets_in),
            "framesIn": load(&connection.frames_in),
            "bytesIn": load(&connection.bytes_in),
            "packetsOut": load(&connection.packets_out),
            "bytesOut": load(&connection.bytes_out),
            "emits": load(&socket.emits),
            "emitsBuffered": self.shared.buffered(),
            "bytesQueuedForSocket": self.manager.gates.send.queued(),
            "eventsWaitingForCallbacks": backlog_events,
            "bytesWaitingForCallbacks": backlog_bytes,
            "pendingAcks": socket.pending_acks.load(Ordering::Relaxed),
            "acksAnswered": load(&socket.acks_answered),
            "lastAckRoundTripUs": (rtt != u64::MAX).then_some(rtt),
            "lastPingRoundTripUs": Value::Null,
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        }
    }

    /// Answers the server's ack request `handle` (from [`IncomingEvent::ack`]) exactly once; `args` is
    /// a JSON array text, sent as written.
    pub fn answer_ack(&self, handle: u64, args: String, attachments: Vec<Vec<u8>>) -> Result<()> {
        self.check_payload(&args, 0, &attachments)?;
        let (server_id, epoch) = self.shared.take_server_ack(handle).ok_or(Error::UnknownAck(handle))?;
        self.manager.send(Command::AnswerAck { key: self.key, server_id, epoch, args, attachments })
    }

    /// Checks what the server would refuse by dropping the connection: JSON that is not an array, too
    /// many attachments, a placeholder without its buffer, a frame over `maxPayload` (`args` plus
    /// `extra` bytes of name and framing).
    fn check_payload(&self, args: &str, extra: usize, attachments: &[Vec<u8>]) -> Result<()> {
        if attachments.len() > MAX_ATTACHMENTS {
            return Err(Error::InvalidArgument(format!(
                "{} binary attachments; the server accepts at most {MAX_ATTACHMENTS}",
                attachments.len()
            )));
        }
        validate_outgoing(args, attachments.len()).map_err(|e| match e {
            crate::protocol::ProtocolError::BadPlaceholder => Error::InvalidArgument(
                "a {\"_placeholder\":true,\"num\":i} argument refers to a buffer that was not given".to_owned(),
            ),
            crate::protocol::ProtocolError::BadJson(e) => {
                Error::InvalidArgument(format!("args_json is not valid JSON: {e}"))
            }
            _ => Error::InvalidArgument("args_json must be a JSON array, e.g. [\"hello\", 1]".to_owned()),
        })?;
        let max = self.shared.max_payload();
        // "4" + type + "N-" + "/nsp," + ack id + the items: an upper bound of the text frame.
        let text = args.len() + extra + self.nsp.len() + 2 + 3 + 1 + 20;
        let largest = attachments.iter().map(Vec::len).chain([text]).max().unwrap_or(0);
        if largest as u64 > max {
            return Err(Error::PayloadTooLarge { size: largest, max });
        }
        Ok(())
    }

    // ----------------------------------------------------------------------------------------------
    // Agnost channels

    /// Sends `message` as `event_name` to every client (`channel` None) or to one channel; `message`
    /// may hold `{"_placeholder":true,"num":i}` for `attachments[i]`. `echo` None: the socket's default.
    pub fn send_message(
        &self,
        channel: Option<&str>,
        event_name: &str,
        message: &str,
        attachments: Vec<Vec<u8>>,
        echo: Option<bool>,
    ) -> Result<()> {
        crate::protocol::json::validate(message)
            .map_err(|e| Error::InvalidArgument(format!("message_json is not valid JSON: {e}")))?;
        if event_name.is_empty() {
            return Err(Error::InvalidArgument("event_name is empty".to_owned()));
        }
        let (name, args) = channels::message_packet(channel, event_name, message, echo);
        let volatile = !self.buffer_messages;
        self.emit(EmitRequest { name, args, attachments, volatile, ack: None, timeout: None, tracked: None })
    }

    pub fn join(&self, channel: &str, echo: Option<bool>) -> Result<()> {
        self.membership(ChannelCommand::Join(channel.to_owned(), echo), channels::join_packet(channel, echo))
    }

    pub fn leave(&self, channel: &str, echo: Option<bool>) -> Result<()> {
        self.membership(ChannelCommand::Leave(channel.to_owned(), echo), channels::leave_packet(channel, echo))
    }

    pub fn update_profile(&self, data: Value, echo: Option<bool>) -> Result<()> {
        let packet = channels::update_packet(&data, echo);
        self.membership(ChannelCommand::UpdateProfile(data, echo), packet)
    }

    /// With `autoJoinChannels` the task keeps the membership and re-sends it on every connect;
    /// without, these are plain emits.
    fn membership(&self, command: ChannelCommand, (name, args): (String, String)) -> Result<()> {
        if self.auto_join_channels {
            self.check_payload(&args, name.len() + 8, &[])?;
            self.manager.send(Command::Channel { key: self.key, command })
        } else {
            self.emit(EmitRequest {
                name,
                args,
                attachments: Vec::new(),
                volatile: false,
                ack: None,
                timeout: None,
                tracked: None,
            })
        }
    }

    /// Asks for a channel's members; `callback` runs once on the socket's event queue with the answer
    /// or an error (never after the client is freed). With `apiBaseUrl`: over HTTP from Agnost's API
    /// server, as Agnost's client does. Without: the `members` socket event with an ack, which Agnost's
    /// realtime service also answers (`engine/realtime/init/realtime.js`, through `fetchSockets`).
    pub fn members(&self, channel: &str, callback: channels::MembersCallback) -> Result<()> {
        let Some(api) = self.members_api.as_ref() else {
            let (name, args) = channels::members_packet(channel);
            let ack: AckCallback = Box::new(move |outcome: &AckOutcome| {
                callback(match outcome {
                    AckOutcome::Answered { args, .. } => Ok(crate::protocol::json::split_first_element(args)
                        .map_or_else(|| "[]".to_owned(), |(first, _)| first.to_owned())),
                    AckOutcome::Failed(error) => Err(error.clone()),
                })
            });
            let request = EmitRequest {
                name,
                args,
                attachments: Vec::new(),
                volatile: false,
                ack: Some(ack),
                timeout: None,
                tracked: None,
            };
            return self.emit(request);
        };
        let api = Arc::clone(api);
        let channel = channel.to_owned();
        let shared = Arc::clone(&self.shared);
        runtime::runtime().spawn(async move {
            let outcome = api.get_members(&channel).await;
            // Run on the event queue like an ack (a failed outcome weighs nothing in the receive gate).
            shared.deliver(Event::AckResult {
                callback: Box::new(move |_: &AckOutcome| callback(outcome)),
                outcome: AckOutcome::Failed(String::new()),
            });
        });
        Ok(())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let key = self.key;
        let _ = self.shared.change(
            |state| {
                state.end_generation();
                None
            },
            |_| self.manager.send(Command::Detach { key }),
        );
        self.manager.namespaces.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.nsp);
    }
}
