//! The WebSocket transport: name resolution on a fixed pool of threads, TCP with Happy Eyeballs
//! across the host's addresses (plus TLS through rustls), and the WebSocket handshake through
//! tokio-tungstenite. Knows nothing of Socket.IO.

mod happy_eyeballs;
mod proxy;
mod resolve;
pub mod http;
mod tls;

pub use proxy::Proxy;
pub use tls::{TlsConfig, TlsSettings, TrustStore};

use std::fmt;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;
use url::Url;

pub use tokio_tungstenite::tungstenite::Message;

/// A byte stream the WebSocket runs over: plain TCP or TLS.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

pub type WebSocket = WebSocketStream<Box<dyn ByteStream>>;

/// Largest WebSocket message the client accepts from a server; larger ones close the transport.
pub const MAX_INCOMING_MESSAGE: usize = 64 << 20;

/// Per-connection read buffer.
const READ_BUFFER_SIZE: usize = 8 * 1024;

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
    if let Some(proxy) = proxy {
        proxy.tunnel(&mut tcp, bare_host, port).await?;
    }
    let stream: Box<dyn ByteStream> = match tls {
        Some(tls) => Box::new(tls.handshake(bare_host, tcp).await?),
        None => Box::new(tcp),
    };

    let mut request = url.as_str().into_client_request().map_err(|e| TransportError::WebSocket(e.to_string()))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| TransportError::WebSocket(format!("header {name:?}: {e}")))?;
        let value =
            HeaderValue::from_str(value).map_err(|e| TransportError::WebSocket(format!("header value: {e}")))?;
        request.headers_mut().insert(name, value);
    }
    // tungstenite's default 128 KiB read buffer is zero-filled per connection: 8 KiB keeps a connected
    // client near 25 KiB instead of 150 KiB, with no measurable cost in latency.
    let config =
        WebSocketConfig::default().max_message_size(Some(MAX_INCOMING_MESSAGE)).read_buffer_size(READ_BUFFER_SIZE);
    match tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await {
        Ok((ws, _response)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).trim().chars().take(512).collect())
                .unwrap_or_default();
            Err(TransportError::Http { status, body })
        }
        Err(tokio_tungstenite::tungstenite::Error::Io(e)) => Err(TransportError::Io(e.to_string())),
        Err(e) => Err(TransportError::WebSocket(e.to_string())),
    }
}

/// How long to wait for a clean WebSocket close before dropping the connection.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
