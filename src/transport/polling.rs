//! The Engine.IO v4 HTTP long-polling transport (engine.io-client's `polling` transport and its
//! upgrade in `socket.ts`), presented as the same `Stream` + `Sink` of WebSocket messages that the
//! WebSocket transport gives, so the engine does not know which one it runs over.
//!
//! A driver task owns two HTTP/1.1 keep-alive connections (hyper): one for the GET in flight, one
//! for the POST in flight, never more than one request on each. Outgoing messages queued while a
//! POST is in flight go together in the next one (packets joined by `\x1e`, binary as `b`+base64,
//! at most `maxPayload` bytes per POST). When the server offers `websocket` and the upgrade is
//! allowed, a WebSocket probe (`2probe` → `3probe`) runs beside the polling; once it answers, the
//! driver pauses (no new GET or POST, the pending GET is released by the server's `6`), sends `5`
//! and everything queued over the WebSocket, and from then on forwards between the WebSocket and
//! the engine. Nothing is lost or sent twice across the switch: the last GET's packets reach the
//! engine before the first WebSocket frame, and no POST is in flight when `5` goes out.

use super::{Message, Proxy, TlsConfig, TransportError, TransportState, WebSocket, CLOSE_GRACE};
use crate::protocol::EnginePacket;
use base64::Engine as _;
use futures_util::task::AtomicWaker;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::UrlError;
use tokio_tungstenite::tungstenite::Error as WsError;
use url::Url;

/// Engine.IO v4's packet separator in a polling payload.
const SEPARATOR: char = '\x1e';

/// Messages read from the server but not yet taken by the engine; beyond it the driver stops polling.
const INCOMING_BOUND: usize = 64;

/// Where and how to poll.
#[derive(Debug, Clone)]
pub struct PollingConfig {
    /// `http(s)://host/path/?…&EIO=4&transport=polling` (no `sid`).
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub tls: Option<TlsConfig>,
    pub proxy: Option<Proxy>,
    /// Upgrade to this WebSocket URL (`…&transport=websocket`, no `sid`) if the server offers it.
    pub upgrade_to: Option<Url>,
    /// The probe's time limit.
    pub probe_timeout: Duration,
}

/// The polling side of an open Engine.IO session.
pub struct Polling {
    incoming: mpsc::Receiver<Result<Message, WsError>>,
    outgoing: Option<mpsc::UnboundedSender<Message>>,
    outbox: Arc<Outbox>,
}

/// Messages given to the driver and not yet delivered (a POST answered 200, or written to the upgraded
/// WebSocket): `poll_flush` waits for none, so the engine's send bound (its bytes leave the bound when
/// a flush completes) holds over polling too — a frozen server stops the writer instead of growing the
/// driver's queue.
struct Outbox {
    pending: AtomicUsize,
    closed: AtomicBool,
    flushed: AtomicWaker,
}

impl Outbox {
    fn delivered(&self, messages: usize) {
        if messages > 0 {
            self.pending.fetch_sub(messages, Ordering::AcqRel);
            self.flushed.wake();
        }
    }
}

/// Held by the driver: when it ends (any way), a waiting flush fails instead of waiting forever.
struct OutboxGuard(Arc<Outbox>);

impl Drop for OutboxGuard {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.flushed.wake();
    }
}

impl futures_util::Stream for Polling {
    type Item = Result<Message, WsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx)
    }
}

impl futures_util::Sink<Message> for Polling {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(if self.outgoing.is_some() { Ok(()) } else { Err(WsError::AlreadyClosed) })
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        match &self.outgoing {
            Some(outgoing) => {
                self.outbox.pending.fetch_add(1, Ordering::AcqRel);
                outgoing.send(item).map_err(|_| WsError::ConnectionClosed)
            }
            None => {
                self.outgoing = None;
                Err(WsError::AlreadyClosed)
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.outbox.flushed.register(cx.waker());
        if self.outbox.pending.load(Ordering::Acquire) == 0 {
            Poll::Ready(Ok(()))
        } else if self.outbox.closed.load(Ordering::Acquire) {
            Poll::Ready(Err(WsError::ConnectionClosed))
        } else {
            Poll::Pending
        }
    }

    /// Ends the session: the driver sends the Engine.IO close packet and stops.
    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.outgoing = None;
        Poll::Ready(Ok(()))
    }
}

/// A failed poll: the engine reports it as `transport error`, as engine.io-client does for a failed
/// XHR ("xhr poll error").
fn poll_error(message: String) -> WsError {
    WsError::Url(UrlError::UnableToConnect(message))
}

async fn fail(incoming: &mpsc::Sender<Result<Message, WsError>>, message: String) {
    let _ = incoming.send(Err(poll_error(message))).await;
}

/// An error with its causes (hyper's "connection error" alone hides e.g. the TLS alert under it).
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = inner.source();
    }
    text
}

/// Performs the handshake GET and starts the driver.
pub async fn connect(config: PollingConfig, state: Arc<TransportState>) -> Result<Polling, TransportError> {
    let dialer = Arc::new(Dialer { config });
    let mut get_lane = Lane { dialer: Arc::clone(&dialer), sender: None };
    let (status, body) = get_lane.request("GET", &dialer.config.url, Vec::new(), None).await?;
    // Through an HTTP proxy without a tunnel, a 407 is the proxy's answer, not the server's: reported
    // as a proxy refusal, as the CONNECT path reports it.
    let forwarding = dialer.config.proxy.as_ref().filter(|p| p.is_http() && dialer.config.tls.is_none());
    if let (407, Some(proxy)) = (status, forwarding) {
        let reason = hyper::StatusCode::PROXY_AUTHENTICATION_REQUIRED.canonical_reason().unwrap_or_default();
        return Err(TransportError::Proxy {
            proxy: proxy.display_url(),
            status: Some(status),
            status_line: format!("HTTP/1.1 {status} {reason}"),
        });
    }
    if status != 200 {
        return Err(TransportError::PollingHttp { status, body: body_text(&body) });
    }
    let body = String::from_utf8(body).map_err(|_| TransportError::Io("polling: the handshake is not UTF-8".into()))?;
    let packets = decode_payload(&body).map_err(TransportError::Io)?;
    let handshake = match packets.first() {
        Some(Message::Text(text)) => match EnginePacket::decode_text(text) {
            Ok(EnginePacket::Open(handshake)) => handshake,
            _ => return Err(TransportError::Io(format!("polling: expected the Engine.IO handshake, got {text:?}"))),
        },
        _ => return Err(TransportError::Io("polling: expected the Engine.IO handshake".to_owned())),
    };
    let with_sid = |url: &Url| {
        let mut url = url.clone();
        url.query_pairs_mut().append_pair("sid", &handshake.sid);
        url
    };
    let session_url = with_sid(&dialer.config.url);
    let probe_url = dialer.config.upgrade_to.as_ref().filter(|_| handshake.upgrades.iter().any(|u| u == "websocket"));
    let probe = probe_url.map(|url| {
        let (url, config) = (with_sid(url), dialer.config.clone());
        Box::pin(async move {
            tokio::time::timeout(config.probe_timeout, probe(url, config))
                .await
                .unwrap_or_else(|_| Err(TransportError::Io("probe timed out".to_owned())))
        }) as ProbeFuture
    });
    let request_timeout =
        Duration::from_millis(handshake.ping_interval_ms.saturating_add(handshake.ping_timeout_ms).max(1000));
    let (incoming_tx, incoming) = mpsc::channel(INCOMING_BOUND);
    let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
    let outbox =
        Arc::new(Outbox { pending: AtomicUsize::new(0), closed: AtomicBool::new(false), flushed: AtomicWaker::new() });
    for packet in packets {
        // The channel is new and larger than one handshake response's packets in practice; beyond
        // it, the rest would be dropped, so refuse instead.
        incoming_tx
            .try_send(Ok(packet))
            .map_err(|_| TransportError::Io("polling: too many packets in the handshake".to_owned()))?;
    }
    let driver = Driver {
        session_url,
        max_payload: usize::try_from(handshake.max_payload).unwrap_or(usize::MAX),
        request_timeout,
        get_lane: Some(get_lane),
        post_lane: Some(Lane { dialer, sender: None }),
        get: None,
        post: None,
        probe,
        probed: None,
        queue: VecDeque::new(),
        incoming: incoming_tx,
        outgoing: outgoing_rx,
        state,
        requests: 0,
        outbox: OutboxGuard(Arc::clone(&outbox)),
        posting: 0,
    };
    tokio::spawn(driver.run());
    Ok(Polling { incoming, outgoing: Some(outgoing), outbox })
}

/// Opens the WebSocket for an upgrade and checks it with `2probe` / `3probe`.
async fn probe(url: Url, config: PollingConfig) -> Result<WebSocket, TransportError> {
    let mut ws = super::connect(&url, &config.headers, config.tls.as_ref(), config.proxy.as_ref()).await?;
    ws.send(Message::text("2probe")).await.map_err(|e| TransportError::WebSocket(e.to_string()))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str() == "3probe" => return Ok(ws),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => return Err(TransportError::WebSocket(format!("probe failed: {other:?}"))),
        }
    }
}

type RequestResult = Result<(u16, Vec<u8>), TransportError>;
type RequestFuture = Pin<Box<dyn Future<Output = (Lane, RequestResult)> + Send>>;
type ProbeFuture = Pin<Box<dyn Future<Output = Result<WebSocket, TransportError>> + Send>>;

struct Dialer {
    config: PollingConfig,
}

/// One keep-alive HTTP connection, opened when first needed and again after the server closed it.
struct Lane {
    dialer: Arc<Dialer>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Lane {
    async fn request(
        &mut self,
        method: &str,
        url: &Url,
        body: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        let work = self.request_inner(method, url, body);
        match timeout {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .unwrap_or_else(|_| Err(TransportError::Io(format!("polling {method} timed out")))),
            None => work.await,
        }
    }

    /// One request. A kept-alive connection may turn out closed only once the request is on it (a
    /// proxy or server closing idle connections, HTTP/1.0 proxies after every response): then it is
    /// tried once more on a fresh connection — a GET that got no response, a POST only if hyper says it
    /// was never sent (no packet sent twice, none received and dropped).
    async fn request_inner(&mut self, method: &str, url: &Url, body: Vec<u8>) -> RequestResult {
        let body = Bytes::from(body);
        match self.send_once(method, url, body.clone(), true).await {
            Err((_, Retry::Yes)) => self.send_once(method, url, body, false).await.map_err(|(e, _)| e),
            other => other.map_err(|(e, _)| e),
        }
    }

    async fn send_once(
        &mut self,
        method: &str,
        url: &Url,
        body: Bytes,
        reuse: bool,
    ) -> Result<(u16, Vec<u8>), (TransportError, Retry)> {
        let config = &self.dialer.config;
        // A kept-alive connection the server has closed since is replaced by a new one.
        let reusable = match self.sender.take() {
            Some(mut sender) if reuse && !sender.is_closed() => sender.ready().await.is_ok().then_some(sender),
            _ => None,
        };
        let reused = reusable.is_some();
        let mut sender = match reusable {
            Some(sender) => sender,
            None => {
                let stream = super::dial(url, config.tls.as_ref(), config.proxy.as_ref(), false)
                    .await
                    .map_err(|e| (e, Retry::No))?;
                let (sender, connection) =
                    hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                        .await
                        .map_err(|e| (TransportError::Io(format!("HTTP handshake: {e}")), Retry::No))?;
                // Drives the connection's IO; ends when `sender` is dropped or the server closes it.
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                sender
            }
        };
        let host = url.host_str().unwrap_or_default();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        // Through an HTTP proxy without a tunnel (plain http://), the request line names the whole URL.
        let absolute = config.proxy.as_ref().filter(|p| p.is_http() && config.tls.is_none());
        let target = match (absolute, url.query()) {
            (Some(_), _) => url.as_str().to_owned(),
            (None, Some(query)) => format!("{}?{query}", url.path()),
            (None, None) => url.path().to_owned(),
        };
        let mut builder = Request::builder().method(method).uri(target).header("host", authority);
        if let Some(authorization) = absolute.and_then(Proxy::authorization) {
            builder = builder.header("proxy-authorization", authorization);
        }
        if method == "POST" {
            builder = builder.header("content-type", "text/plain;charset=UTF-8");
        }
        for (name, value) in &config.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request =
            builder.body(Full::new(body)).map_err(|e| (TransportError::Io(format!("HTTP request: {e}")), Retry::No))?;
        let response = sender.send_request(request).await.map_err(|e| {
            let retry = if reused && (method == "GET" || e.is_canceled()) { Retry::Yes } else { Retry::No };
            (TransportError::Io(format!("polling {method}: {}", with_causes(&e))), retry)
        })?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), super::MAX_INCOMING_MESSAGE)
            .collect()
            .await
            // A response cut short may have carried packets: never retried (the reconnect, with
            // connection state recovery, gets them replayed).
            .map_err(|e| (TransportError::Io(format!("polling {method} response: {}", with_causes(&*e))), Retry::No))?
            .to_bytes()
            .to_vec();
        self.sender = Some(sender);
        Ok((status, body))
    }
}

/// Whether a failed request may be tried again on a fresh connection.
enum Retry {
    Yes,
    No,
}

fn body_text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).trim().chars().take(512).collect()
}

/// Splits a v4 payload: packets joined by `\x1e`; `b`+base64 is a binary message.
pub fn decode_payload(payload: &str) -> Result<Vec<Message>, String> {
    payload
        .split(SEPARATOR)
        .filter(|packet| !packet.is_empty())
        .map(|packet| match packet.strip_prefix('b') {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map(Message::binary)
                .map_err(|e| format!("polling: invalid base64 binary packet: {e}")),
            None => Ok(Message::text(packet)),
        })
        .collect()
}

/// One packet as written in a payload.
fn encode_packet(message: &Message) -> Option<String> {
    match message {
        Message::Text(text) => Some(text.as_str().to_owned()),
        Message::Binary(bytes) => Some(format!("b{}", base64::engine::general_purpose::STANDARD.encode(bytes))),
        _ => None,
    }
}

/// Takes the packets of the next POST from `queue`: all of them, or as many as fit in `max_payload`
/// (at least one), as engine.io-client's `_getWritablePackets` does.
fn next_batch(queue: &mut VecDeque<Message>, max_payload: usize) -> String {
    let mut payload = String::new();
    while let Some(message) = queue.front() {
        let Some(packet) = encode_packet(message) else {
            queue.pop_front();
            continue;
        };
        let grown = payload.len() + packet.len() + usize::from(!payload.is_empty());
        if !payload.is_empty() && grown > max_payload {
            break;
        }
        if !payload.is_empty() {
            payload.push(SEPARATOR);
        }
        payload.push_str(&packet);
        queue.pop_front();
    }
    payload
}

/// Awaits the future in `slot`, or never when there is none.
async fn maybe<F: Future + Unpin>(slot: &mut Option<F>) -> F::Output {
    match slot {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

struct Driver {
    session_url: Url,
    max_payload: usize,
    request_timeout: Duration,
    get_lane: Option<Lane>,
    post_lane: Option<Lane>,
    get: Option<RequestFuture>,
    post: Option<RequestFuture>,
    probe: Option<ProbeFuture>,
    /// The probe answered: polling is pausing, then the session moves to this WebSocket.
    probed: Option<WebSocket>,
    queue: VecDeque<Message>,
    incoming: mpsc::Sender<Result<Message, WsError>>,
    outgoing: mpsc::UnboundedReceiver<Message>,
    state: Arc<TransportState>,
    requests: u64,
    outbox: OutboxGuard,
    /// Messages in the POST in flight.
    posting: usize,
}

impl Driver {
    fn request_url(&mut self) -> Url {
        // A cache-busting parameter, as engine.io-client's `timestampRequests` adds, for caching proxies.
        self.requests += 1;
        let mut url = self.session_url.clone();
        url.query_pairs_mut().append_pair("t", &format!("{:x}", self.requests));
        url
    }

    fn start(&mut self, method: &'static str, body: Vec<u8>) -> RequestFuture {
        let lane = if method == "GET" { self.get_lane.take() } else { self.post_lane.take() };
        let mut lane = lane.expect("one request per lane");
        let url = self.request_url();
        let timeout = self.request_timeout;
        Box::pin(async move {
            let result = lane.request(method, &url, body, Some(timeout)).await;
            (lane, result)
        })
    }

    async fn run(mut self) {
        loop {
            let pausing = self.probed.is_some();
            if pausing && self.get.is_none() && self.post.is_none() {
                return self.upgrade().await;
            }
            if !pausing && self.get.is_none() {
                self.get = Some(self.start("GET", Vec::new()));
            }
            if !pausing && self.post.is_none() && !self.queue.is_empty() {
                let before = self.queue.len();
                let payload = next_batch(&mut self.queue, self.max_payload);
                self.posting = before - self.queue.len();
                self.post = Some(self.start("POST", payload.into_bytes()));
            }
            tokio::select! {
                (lane, result) = maybe(&mut self.get) => {
                    self.get = None;
                    self.get_lane = Some(lane);
                    let body = match result {
                        Ok((200, body)) => body,
                        Ok((status, body)) => return fail(&self.incoming, format!("polling GET: HTTP {status} {}", body_text(&body))).await,
                        Err(e) => return fail(&self.incoming, e.to_string()).await,
                    };
                    let packets = match String::from_utf8(body).map_err(|e| e.to_string()).and_then(|b| decode_payload(&b)) {
                        Ok(packets) => packets,
                        Err(e) => return fail(&self.incoming, e).await,
                    };
                    for packet in packets {
                        let close = matches!(&packet, Message::Text(text) if text.as_str() == "1");
                        if self.incoming.send(Ok(packet)).await.is_err() || close {
                            return;
                        }
                    }
                }
                (lane, result) = maybe(&mut self.post) => {
                    self.post = None;
                    self.post_lane = Some(lane);
                    match result {
                        Ok((200, _)) => self.outbox.0.delivered(std::mem::take(&mut self.posting)),
                        Ok((status, body)) => return fail(&self.incoming, format!("polling POST: HTTP {status} {}", body_text(&body))).await,
                        Err(e) => return fail(&self.incoming, e.to_string()).await,
                    }
                }
                message = self.outgoing.recv() => match message {
                    Some(message) => self.queue.push_back(message),
                    None => return self.close().await,
                },
                result = maybe(&mut self.probe) => {
                    self.probe = None;
                    // A failed probe leaves the session on polling, as engine.io-client does.
                    if let Ok(ws) = result {
                        self.probed = Some(ws);
                    }
                }
                // The engine is gone: its sender is dropped along with this receiver, and select!
                // may pick either branch. Take what it queued last (its DISCONNECT), then close.
                _ = self.incoming.closed() => {
                    while let Ok(message) = self.outgoing.try_recv() {
                        self.queue.push_back(message);
                    }
                    return self.close().await;
                }
            }
        }
    }

    /// The engine is done with the session: say so to the server (close packet), briefly.
    /// A POST in flight is awaited first (briefly), and what is still queued (the engine's last
    /// packets, a DISCONNECT among them) goes in the same payload as the close packet: closing right
    /// after an emit must not leave the session open on the server until its heartbeat times out.
    async fn close(mut self) {
        self.probed = None;
        if self.post_lane.is_none() {
            if let Some(post) = self.post.take() {
                if let Ok((lane, _)) = tokio::time::timeout(CLOSE_GRACE, post).await {
                    self.post_lane = Some(lane);
                }
            }
        }
        let Some(mut lane) = self.post_lane.take() else {
            return;
        };
        let mut payload = next_batch(&mut self.queue, usize::MAX);
        if !payload.is_empty() {
            payload.push(SEPARATOR);
        }
        payload.push('1');
        let url = self.request_url();
        let _ = lane.request("POST", &url, payload.into_bytes(), Some(CLOSE_GRACE)).await;
    }

    /// Polling is paused (no request in flight): finish the upgrade and forward over the WebSocket.
    async fn upgrade(mut self) {
        let Some(ws) = self.probed.take() else {
            return;
        };
        let (mut sink, mut stream) = ws.split();
        let mut result = sink.feed(Message::text("5")).await;
        let mut fed = 0;
        while let (Ok(()), Some(message)) = (&result, self.queue.pop_front()) {
            result = sink.feed(message).await;
            fed += 1;
        }
        if let Err(e) = result.and(sink.flush().await) {
            return fail(&self.incoming, format!("upgrade: {e}")).await;
        }
        self.outbox.0.delivered(fed);
        self.state.upgraded();
        drop((self.get_lane.take(), self.post_lane.take()));
        loop {
            tokio::select! {
                frame = stream.next() => match frame {
                    Some(frame) => {
                        let failed = frame.is_err();
                        if self.incoming.send(frame).await.is_err() || failed {
                            return;
                        }
                    }
                    None => return,
                },
                message = self.outgoing.recv() => match message {
                    Some(message) => {
                        let mut result = sink.feed(message).await;
                        let mut fed = 1;
                        while result.is_ok() {
                            match self.outgoing.try_recv() {
                                Ok(next) => {
                                    result = sink.feed(next).await;
                                    fed += 1;
                                }
                                Err(_) => break,
                            }
                        }
                        if let Err(e) = result.and(sink.flush().await) {
                            let _ = self.incoming.send(Err(e)).await;
                            return;
                        }
                        self.outbox.0.delivered(fed);
                    }
                    None => {
                        let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
                        return;
                    }
                },
                // The engine is gone (see run): send what it queued last, then close the WebSocket,
                // as when its sender is seen dropped first.
                _ = self.incoming.closed() => {
                    while let Ok(message) = self.outgoing.try_recv() {
                        if sink.feed(message).await.is_err() {
                            return;
                        }
                    }
                    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let packets = decode_payload("4hello\x1ebAQID\x1e2").unwrap();
        assert_eq!(packets, vec![Message::text("4hello"), Message::binary(vec![1u8, 2, 3]), Message::text("2")]);
        let mut queue: VecDeque<Message> = packets.into_iter().collect();
        assert_eq!(next_batch(&mut queue, 1000), "4hello\x1ebAQID\x1e2");
        assert!(queue.is_empty());
        assert!(decode_payload("b!!").is_err());
    }

    #[test]
    fn batches_respect_max_payload() {
        let mut queue: VecDeque<Message> = ["4aaaa", "4bbbb", "4cccc"].into_iter().map(Message::text).collect();
        assert_eq!(next_batch(&mut queue, 11), "4aaaa\x1e4bbbb");
        assert_eq!(next_batch(&mut queue, 11), "4cccc");
        // One packet larger than the limit still goes (the server then refuses it).
        let mut queue: VecDeque<Message> = [Message::text("4toolong")].into_iter().collect();
        assert_eq!(next_batch(&mut queue, 3), "4toolong");
    }
}
