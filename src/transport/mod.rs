//! The transports: WebSocket (tokio-tungstenite) and Engine.IO HTTP long-polling (hyper, in
//! `polling`), over name resolution on a fixed pool of threads, TCP with Happy Eyeballs across the
//! host's addresses, proxies, and TLS through rustls. Both present one `Transport`: a `Stream` of
//! incoming messages and a `Sink` of outgoing ones. Knows nothing of Socket.IO.

mod happy_eyeballs;
mod upgrade;
mod lazy_read;
pub mod polling;
mod proxy;
mod resolve;
pub mod http;
mod tls;

pub use proxy::{EnvironmentProxies, Proxy};
pub use tls::{TlsConfig, TlsSettings, TrustStore};

use std::fmt;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;
use url::Url;

pub use tokio_tungstenite::tungstenite::Message;

/// A byte stream the WebSocket runs over: plain TCP or TLS.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

pub type WebSocket = WebSocketStream<lazy_read::LazyReadBuffer<Box<dyn ByteStream>>>;

/// Largest WebSocket message the client accepts from a server; larger ones close the transport.
pub const MAX_INCOMING_MESSAGE: usize = 64 << 20;

/// tungstenite's own read buffer, held for the connection's life: a frame header and small frames.
/// The socket is read in large chunks below it, into a buffer held only while data arrives
/// ([`lazy_read::LazyReadBuffer`]).
const READ_BUFFER_SIZE: usize = 1024;

/// Why the transport could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// DNS, TCP connect, or a socket error.
    Io(String),
    /// The TLS handshake failed (an untrusted or invalid certificate among others).
    Tls(String),
    /// The server answered the upgrade with an HTTP error.
    Http { status: u16, body: String },
    /// The WebSocket handshake failed otherwise.
    WebSocket(String),
    /// The server refused a polling request with an HTTP error.
    PollingHttp { status: u16, body: String },
    /// The proxy refused the tunnel: `status_line` is its HTTP status line (or SOCKS5's reply).
    Proxy { proxy: String, status: Option<u16>, status_line: String },
}

impl TransportError {
    /// What the failure carries for `on_error`'s `data`, beyond its message (JSON), if anything.
    pub fn data(&self) -> Option<serde_json::Value> {
        match self {
            TransportError::Proxy { proxy, status, status_line } => {
                Some(serde_json::json!({ "proxy": proxy, "status": status, "statusLine": status_line }))
            }
            TransportError::PollingHttp { status, body } => {
                let body = serde_json::from_str(body).unwrap_or_else(|_| serde_json::Value::String(body.clone()));
                Some(serde_json::json!({ "status": status, "body": body }))
            }
            _ => None,
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Io(m) => write!(f, "{m}"),
            TransportError::Tls(m) => write!(f, "TLS handshake failed: {m}"),
            TransportError::Http { status, body } if body.is_empty() => {
                write!(f, "the server refused the WebSocket upgrade with HTTP {status}")
            }
            TransportError::Http { status, body } => {
                write!(f, "the server refused the WebSocket upgrade with HTTP {status}: {body}")
            }
            TransportError::WebSocket(m) => write!(f, "WebSocket handshake failed: {m}"),
            TransportError::PollingHttp { status, body } => {
                write!(f, "the server refused the polling request with HTTP {status}: {body}")
            }
            TransportError::Proxy { proxy, status_line, .. } => write!(f, "the proxy {proxy} refused: {status_line}"),
        }
    }
}

/// Opens a WebSocket to `url` (`ws://` or `wss://`) with extra request headers, through a tunnel of
/// `proxy` when there is one (TLS to the origin runs inside the tunnel).
pub async fn connect(
    url: &Url,
    headers: &[(String, String)],
    tls: Option<&TlsConfig>,
    proxy: Option<&Proxy>,
) -> Result<WebSocket, TransportError> {
    let stream = dial(url, tls, proxy, true).await?;
    // tungstenite's default 128 KiB read buffer is zero-filled per connection and kept for its life:
    // 1 KiB here, with the socket read in 32 KiB chunks by the lazy buffer underneath.
    let config =
        WebSocketConfig::default().max_message_size(Some(MAX_INCOMING_MESSAGE)).read_buffer_size(READ_BUFFER_SIZE);
    upgrade::client(lazy_read::LazyReadBuffer::new(stream), url, headers, config).await
}

/// Opens a byte stream to `url`'s host and port: TCP (Happy Eyeballs across its addresses), through
/// `proxy` when there is one, then TLS when `tls` is given. With `tunnel` false an HTTP proxy is only
/// dialled (the caller sends it absolute-form requests); SOCKS5 proxies always tunnel.
pub(crate) async fn dial(
    url: &Url,
    tls: Option<&TlsConfig>,
    proxy: Option<&Proxy>,
    tunnel: bool,
) -> Result<Box<dyn ByteStream>, TransportError> {
    let host = url.host_str().ok_or_else(|| TransportError::Io("URL has no host".to_owned()))?;
    let port = url.port_or_known_default().unwrap_or(if tls.is_some() { 443 } else { 80 });
    // `host_str` keeps IPv6 brackets; the resolver wants them off.
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let (dial_host, dial_port) = proxy.map_or((bare_host, port), |proxy| (proxy.host(), proxy.port()));
    let what = match proxy {
        Some(proxy) => format!("the proxy {}", proxy.display_url()),
        None => format!("{host}:{port}"),
    };
    let addresses = resolve::resolve(dial_host, dial_port)
        .await
        .map_err(|e| TransportError::Io(format!("cannot resolve {dial_host}: {e}")))?;
    let addresses = happy_eyeballs::interleave(&addresses);
    let mut tcp = happy_eyeballs::connect_first(&addresses, happy_eyeballs::ATTEMPT_DELAY, TcpStream::connect)
        .await
        .map_err(|e| TransportError::Io(format!("cannot connect to {what}: {e}")))?;
    tcp.set_nodelay(true).ok();
    if let Some(proxy) = proxy.filter(|proxy| tunnel || tls.is_some() || !proxy.is_http()) {
        proxy.tunnel(&mut tcp, bare_host, port).await?;
    }
    Ok(match tls {
        Some(tls) => Box::new(tls.handshake(bare_host, tcp).await?),
        None => Box::new(tcp),
    })
}

/// How long to wait for a clean WebSocket close before dropping the connection.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A transport of Engine.IO v4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    WebSocket,
    Polling,
}

impl TransportKind {
    /// engine.io's name: `websocket` or `polling`.
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::WebSocket => "websocket",
            TransportKind::Polling => "polling",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "websocket" => Some(TransportKind::WebSocket),
            "polling" => Some(TransportKind::Polling),
            _ => None,
        }
    }
}

/// Which transports to open, in order, and whether to upgrade (engine.io-client's `transports`,
/// `upgrade`, `rememberUpgrade`, `tryAllTransports`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportPlan {
    pub transports: Vec<TransportKind>,
    pub upgrade: bool,
    pub remember_upgrade: bool,
    pub try_all: bool,
}

impl Default for TransportPlan {
    fn default() -> Self {
        Self {
            transports: vec![TransportKind::WebSocket, TransportKind::Polling],
            upgrade: true,
            remember_upgrade: false,
            try_all: true,
        }
    }
}

const ACTIVE_NONE: u8 = 0;
const ACTIVE_WEBSOCKET: u8 = 1;
const ACTIVE_POLLING: u8 = 2;

/// What one client's connections share: the transport in use now, and whether a WebSocket ever
/// worked (for `rememberUpgrade`).
#[derive(Debug, Default)]
pub struct TransportState {
    active: std::sync::atomic::AtomicU8,
    websocket_worked: std::sync::atomic::AtomicBool,
}

impl TransportState {
    /// The transport of the open connection, if any.
    pub fn active(&self) -> Option<TransportKind> {
        match self.active.load(std::sync::atomic::Ordering::Acquire) {
            ACTIVE_WEBSOCKET => Some(TransportKind::WebSocket),
            ACTIVE_POLLING => Some(TransportKind::Polling),
            _ => None,
        }
    }

    fn set(&self, kind: TransportKind) {
        let value = match kind {
            TransportKind::WebSocket => ACTIVE_WEBSOCKET,
            TransportKind::Polling => ACTIVE_POLLING,
        };
        self.active.store(value, std::sync::atomic::Ordering::Release);
        if kind == TransportKind::WebSocket {
            self.websocket_worked.store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// A polling session moved to WebSocket (only if it is still the open one).
    fn upgraded(&self) {
        use std::sync::atomic::Ordering;
        log::info!("upgraded from polling to websocket");
        let _ = self.active.compare_exchange(ACTIVE_POLLING, ACTIVE_WEBSOCKET, Ordering::AcqRel, Ordering::Acquire);
        self.websocket_worked.store(true, Ordering::Release);
    }
}

/// An open transport: the WebSocket, or a polling session (which may move to a WebSocket inside).
/// Dropping it marks the client as having no transport.
pub struct Transport {
    inner: TransportInner,
    state: std::sync::Arc<TransportState>,
}

enum TransportInner {
    WebSocket(Box<WebSocket>),
    Polling(polling::Polling),
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.state.active.store(ACTIVE_NONE, std::sync::atomic::Ordering::Release);
    }
}

impl futures_util::Stream for Transport {
    type Item = Result<Message, tokio_tungstenite::tungstenite::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match &mut self.inner {
            TransportInner::WebSocket(ws) => std::pin::Pin::new(ws.as_mut()).poll_next(cx),
            TransportInner::Polling(polling) => std::pin::Pin::new(polling).poll_next(cx),
        }
    }
}

macro_rules! delegate_sink {
    ($self:ident, $method:ident $(, $arg:expr)*) => {
        match &mut $self.inner {
            TransportInner::WebSocket(ws) => futures_util::Sink::$method(std::pin::Pin::new(ws.as_mut()) $(, $arg)*),
            TransportInner::Polling(polling) => futures_util::Sink::$method(std::pin::Pin::new(polling) $(, $arg)*),
        }
    };
}

impl futures_util::Sink<Message> for Transport {
    type Error = tokio_tungstenite::tungstenite::Error;

    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        delegate_sink!(self, poll_ready, cx)
    }

    fn start_send(mut self: std::pin::Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        delegate_sink!(self, start_send, item)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        delegate_sink!(self, poll_flush, cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        delegate_sink!(self, poll_close, cx)
    }
}

/// Where an Engine.IO session is opened.
#[derive(Debug, Clone)]
pub struct TransportTarget<'a> {
    /// The WebSocket URL (`ws[s]://…?…&EIO=4&transport=websocket`); the polling URL derives from it.
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    pub tls: Option<&'a TlsConfig>,
    pub proxy: Option<&'a Proxy>,
    pub plan: &'a TransportPlan,
    /// The probe's time limit during an upgrade.
    pub probe_timeout: Duration,
}

/// The polling URL of a WebSocket URL: `http(s)://`, `transport=polling`.
pub fn polling_url(websocket_url: &Url) -> Url {
    let mut url = websocket_url.clone();
    let scheme = if url.scheme() == "wss" { "https" } else { "http" };
    let _ = url.set_scheme(scheme);
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "transport" { "polling".to_owned() } else { v.into_owned() };
            (k.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

/// May the next transport be tried after this failure? Only when something refused this transport
/// in particular (an HTTP refusal of the upgrade, a failed WebSocket handshake, a proxy's refusal):
/// an unreachable host, an untrusted certificate or a timeout would fail the next one the same way.
fn worth_another_transport(error: &TransportError) -> bool {
    matches!(
        error,
        TransportError::Http { .. }
            | TransportError::WebSocket(_)
            | TransportError::Proxy { .. }
            | TransportError::PollingHttp { .. }
    )
}

/// Opens an Engine.IO session over the plan's transports: the first, then (with `tryAllTransports`)
/// the next ones when it is refused. With `rememberUpgrade`, once a WebSocket has worked only the
/// WebSocket is tried. When every transport fails, the first failure is the one reported.
pub async fn open(
    target: &TransportTarget<'_>,
    state: &std::sync::Arc<TransportState>,
) -> Result<Transport, TransportError> {
    let plan = target.plan;
    let remembered = plan.remember_upgrade
        && plan.transports.contains(&TransportKind::WebSocket)
        && state.websocket_worked.load(std::sync::atomic::Ordering::Acquire);
    let order: Vec<TransportKind> = if remembered { vec![TransportKind::WebSocket] } else { plan.transports.clone() };
    let mut first_error = None;
    for (index, kind) in order.iter().enumerate() {
        let result = match kind {
            TransportKind::WebSocket => connect(target.url, target.headers, target.tls, target.proxy)
                .await
                .map(|ws| TransportInner::WebSocket(Box::new(ws))),
            TransportKind::Polling => {
                let upgrade_to =
                    (plan.upgrade && plan.transports.contains(&TransportKind::WebSocket)).then(|| target.url.clone());
                let config = polling::PollingConfig {
                    url: polling_url(target.url),
                    headers: target.headers.to_vec(),
                    tls: target.tls.cloned(),
                    proxy: target.proxy.cloned(),
                    upgrade_to,
                    probe_timeout: target.probe_timeout,
                };
                polling::connect(config, std::sync::Arc::clone(state)).await.map(TransportInner::Polling)
            }
        };
        match result {
            Ok(inner) => {
                state.set(*kind);
                return Ok(Transport { inner, state: std::sync::Arc::clone(state) });
            }
            Err(error) => {
                let retry = plan.try_all && index + 1 < order.len() && worth_another_transport(&error);
                first_error.get_or_insert(error);
                if !retry {
                    break;
                }
            }
        }
    }
    Err(first_error.unwrap_or_else(|| TransportError::Io("no transport to open (\"transports\" is empty)".to_owned())))
}
