//! A small HTTP/1.1 client (hyper 1, one request per connection) over plain TCP or the transport's
//! rustls configuration: Agnost's members API today, Engine.IO long-polling later. Knows nothing of
//! Socket.IO or Agnost.

use super::{ByteStream, TlsConfig, TransportError};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;
use url::Url;

/// The largest response body read (a bigger one is an error, not a truncation).
pub const MAX_RESPONSE_BODY: usize = 16 << 20;

/// A complete HTTP response: its status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends one request (`http://` or `https://` URL; `tls` is required for https) and reads the whole
/// response, within `timeout` for everything.
pub async fn request(
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: Vec<u8>,
    tls: Option<&TlsConfig>,
    timeout: Duration,
) -> Result<HttpResponse, TransportError> {
    tokio::time::timeout(timeout, request_inner(method, url, headers, body, tls))
        .await
        .map_err(|_| TransportError::Io(format!("HTTP request to {url} timed out after {} ms", timeout.as_millis())))?
}

async fn request_inner(
    method: &str,
    url: &Url,
    headers: &[(String, String)],
    body: Vec<u8>,
    tls: Option<&TlsConfig>,
) -> Result<HttpResponse, TransportError> {
    let secure = match url.scheme() {
        "http" => false,
        "https" => true,
        other => return Err(TransportError::Io(format!("unsupported URL scheme {other:?} (http or https)"))),
    };
    let host = url.host_str().ok_or_else(|| TransportError::Io("URL has no host".to_owned()))?;
    let port = url.port_or_known_default().unwrap_or(if secure { 443 } else { 80 });
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((bare_host, port))
        .await
        .map_err(|e| TransportError::Io(format!("cannot connect to {host}:{port}: {e}")))?;
    tcp.set_nodelay(true).ok();
    let stream: Box<dyn ByteStream> = match (secure, tls) {
        (true, Some(tls)) => Box::new(tls.handshake(bare_host, tcp).await?),
        (true, None) => return Err(TransportError::Tls("no TLS configuration for an https URL".to_owned())),
        (false, _) => Box::new(tcp),
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| TransportError::Io(format!("HTTP handshake: {e}")))?;
    // The connection future drives the IO; it ends when the response is read and `sender` dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut builder = Request::builder().method(method).uri(target).header("host", authority);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request =
        builder.body(Full::new(Bytes::from(body))).map_err(|e| TransportError::Io(format!("HTTP request: {e}")))?;
    let response = sender.send_request(request).await.map_err(|e| TransportError::Io(format!("HTTP request: {e}")))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BODY)
        .collect()
        .await
        .map_err(|e| TransportError::Io(format!("HTTP response body: {e}")))?
        .to_bytes()
        .to_vec();
    Ok(HttpResponse { status, body })
}
