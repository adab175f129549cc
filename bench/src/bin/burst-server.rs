//! burst-server: the native peer of `make bench`, one thread (pin it to a core with taskset), so that the
//! client under test is the bottleneck.
//!
//! On `/socket.io/?EIO=4&transport=websocket` it speaks just enough Engine.IO v4 / Socket.IO v5:
//! - sends the open packet `0{"sid":…,"upgrades":[],"pingInterval":…,"pingTimeout":20000,"maxPayload":1000000}`
//!   and then pings (`2`) every ping interval (the client answers `3`);
//! - answers the CONNECT of the main namespace (`40…`) with `40{"sid":…}`;
//! - `42["burst",N,SIZE]`: writes N text frames `42["e","xxx…"]` (SIZE bytes of string), pre-encoded: one
//!   chunk of ready WebSocket frames written again and again straight to the socket (no per-frame work);
//! - `42["burst",N,SIZE,true]`: the same events numbered, `42["e",i,"xxx…"]` for i = 0‥N−1, encoded as they
//!   go (for checking order and completeness, not for speed);
//! - `42<id>[…]` (an event asking for an ack): answers `43<id>[…]` (the same arguments) at once.
//!
//! On `/socket.io/?EIO=4&transport=polling` it speaks Engine.IO v4 HTTP long-polling (hyper, HTTP/1.1
//! keep-alive), with the same Socket.IO behaviour:
//! - GET without `sid`: the handshake, the open packet with `"upgrades":["websocket"]`; a session starts;
//! - GET with `sid`: held until packets are queued, then answered with all of them joined by `\x1e`, at most
//!   1,000,000 bytes (socket.io's default `maxHttpBufferSize`) per response; a burst is pre-encoded as one
//!   payload's worth of events, and each response is a slice of it (no per-event work);
//! - POST with `sid`: client packets (several joined by `\x1e`), answered `ok`; `1` ends the session;
//! - pings every ping interval (queued like any packet); a session not heard from for ping interval +
//!   ping timeout is dropped; a second GET (or POST) while one is in flight is refused (400) and ends the
//!   session, as engine.io does;
//! - upgrade: a WebSocket on `…&transport=websocket&sid=…` sends `2probe`, gets `3probe`; the held GET is
//!   released with a noop `6` at once (engine.io sends it within 100 ms); on `5` the packets still queued
//!   go over the WebSocket and the session goes on there as a WebSocket session. A `probeDelayMs=MS` query
//!   parameter (the client's `query` option) delays `3probe` by MS, so that a burst can straddle the switch.
//!
//! On any other path (`/raw`) it is a plain WebSocket echo (text and binary), the round-trip baseline.
//!
//! Usage: burst-server [--ping-interval MS] [--trace]; prints `port <n>` on stdout once listening on
//! 127.0.0.1. `--trace`: one stderr line per polling request and upgrade step.

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::handshake::server::{Request as WsRequest, Response as WsResponse};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Frames per pre-encoded chunk of a burst.
const CHUNK_FRAMES: usize = 1024;

/// The largest polling payload, either way (the open packet's `maxPayload`).
const MAX_PAYLOAD: usize = 1_000_000;

/// The open packet's `pingTimeout` (ms).
const PING_TIMEOUT_MS: u64 = 20_000;

/// Engine.IO v4's packet separator in a polling payload.
const SEPARATOR: u8 = 0x1e;

static NEXT_SID: AtomicU64 = AtomicU64::new(1);

static TRACE: AtomicBool = AtomicBool::new(false);
static STARTED: LazyLock<Instant> = LazyLock::new(Instant::now);

macro_rules! trace {
    ($($arg:tt)*) => {
        if TRACE.load(Ordering::Relaxed) {
            eprintln!("burst-server: {:>10} µs {}", STARTED.elapsed().as_micros(), format_args!($($arg)*));
        }
    };
}

fn main() {
    let mut ping_interval_ms: u64 = 25_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ping-interval" => {
                ping_interval_ms = args.next().and_then(|v| v.parse().ok()).expect("--ping-interval MS");
            }
            "--trace" => {
                TRACE.store(true, Ordering::Relaxed);
                LazyLock::force(&STARTED);
            }
            other => {
                eprintln!("burst-server: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(serve(ping_interval_ms));
}

async fn serve(ping_interval_ms: u64) {
    // A deep backlog: the 10 k-client figure connects in batches of hundreds at once.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("reuseaddr");
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind 127.0.0.1:0");
    let listener: TcpListener = socket.listen(4096).expect("listen");
    let port = listener.local_addr().expect("local_addr").port();
    println!("port {port}");
    std::io::stdout().flush().ok();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and the like: wait a little instead of spinning.
                eprintln!("burst-server: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, ping_interval_ms));
    }
}

// The callback type is tungstenite's (its error is an HTTP response).
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, ping_interval_ms: u64) {
    // A connection whose first request is a polling request stays an HTTP connection (keep-alive).
    if is_polling(&stream).await {
        let service = hyper::service::service_fn(move |request| polling_request(request, ping_interval_ms));
        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        return;
    }
    let mut path = String::new();
    // Small buffers: 10 k idle connections must fit.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let ws = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |request: &WsRequest, response: WsResponse| {
            path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
            Ok(response)
        },
        Some(config),
    )
    .await;
    let Ok(ws) = ws else { return };
    if let Some(query) = path.strip_prefix("/socket.io/") {
        let _ = match query_param(query, "sid") {
            Some(sid) => {
                let probe_delay = query_param(query, "probeDelayMs").and_then(|ms| ms.parse().ok()).unwrap_or(0);
                upgrade(ws, sid.to_owned(), Duration::from_millis(probe_delay), ping_interval_ms).await
            }
            None => socket_io(ws, ping_interval_ms).await,
        };
    } else {
        let _ = echo(ws).await;
    }
}

/// Whether the request line waiting on `stream` asks for the polling transport (read without taking it).
async fn is_polling(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 512];
    // The request line arrives in one segment in practice; wait a little if it does not.
    for _ in 0..100 {
        let n = match stream.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            let line = &buf[..end];
            return line.windows(17).any(|w| w == b"transport=polling");
        }
        if n == buf.len() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

/// The value of `name` in a query string (`a=1&b=2`), undecoded.
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn open_packet(sid: u64, upgrades: &str, ping_interval_ms: u64) -> String {
    format!(
        "0{{\"sid\":\"e{sid:019}\",\"upgrades\":[{upgrades}],\"pingInterval\":{ping_interval_ms},\"pingTimeout\":{PING_TIMEOUT_MS},\"maxPayload\":{MAX_PAYLOAD}}}"
    )
}

// ---------------------------------------------------------------------------------------------------
// Socket.IO: what the server answers, on either transport

/// The server's answer to one client packet.
enum Reply {
    Packet(String),
    /// `count` burst events of `size` bytes; numbered from 0 when `numbered`.
    Burst {
        count: u64,
        size: usize,
        numbered: bool,
    },
}

/// The answer to the Engine.IO text packet `text` of the session numbered `sid`, if any.
fn reply(text: &str, sid: u64) -> Option<Reply> {
    if let Some(rest) = text.strip_prefix("40") {
        // CONNECT of the main namespace (with or without auth).
        (rest.is_empty() || rest.starts_with('{')).then(|| Reply::Packet(format!("40{{\"sid\":\"s{sid:019}\"}}")))
    } else if let Some(rest) = text.strip_prefix("42") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            Some(Reply::Packet(format!("43{rest}")))
        } else {
            parse_burst(rest).map(|(count, size, numbered)| Reply::Burst { count, size, numbered })
        }
    } else {
        // `3` (pong) and anything else: nothing to do.
        None
    }
}

/// `["burst",N,SIZE]` → (N, SIZE, false); `["burst",N,SIZE,true]` → (N, SIZE, true).
fn parse_burst(args: &str) -> Option<(u64, usize, bool)> {
    let inner = args.strip_prefix("[\"burst\",")?.strip_suffix(']')?;
    let mut parts = inner.split(',').map(str::trim);
    let count = parts.next()?.parse().ok()?;
    let size = parts.next()?.parse().ok()?;
    let numbered = match parts.next() {
        None => false,
        Some("true") => true,
        Some(_) => return None,
    };
    parts.next().is_none().then_some((count, size, numbered))
}

/// One burst event, `42["e","xxx…"]` or numbered `42["e",i,"xxx…"]`, appended to `out`.
fn encode_event(size: usize, number: Option<u64>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"42[\"e\",");
    if let Some(number) = number {
        let _ = write!(out, "{number},");
    }
    out.push(b'"');
    out.resize(out.len() + size, b'x');
    out.extend_from_slice(b"\"]");
}

// ---------------------------------------------------------------------------------------------------
// WebSocket

type Ws = WebSocketStream<TcpStream>;
type WsResult = Result<(), tokio_tungstenite::tungstenite::Error>;

async fn echo(mut ws: Ws) -> WsResult {
    while let Some(message) = ws.next().await {
        match message? {
            message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}

async fn socket_io(mut ws: Ws, ping_interval_ms: u64) -> WsResult {
    let sid = NEXT_SID.fetch_add(1, Ordering::Relaxed);
    ws.send(Message::text(open_packet(sid, "", ping_interval_ms))).await?;
    websocket_session(ws, sid, ping_interval_ms).await
}

/// A WebSocket session after its open packet (sent on this WebSocket, or over polling before an upgrade).
async fn websocket_session(mut ws: Ws, sid: u64, ping_interval_ms: u64) -> WsResult {
    let period = Duration::from_millis(ping_interval_ms);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = ws.next() => {
                let Some(message) = message else { return Ok(()) };
                let text = match message? {
                    Message::Text(text) => text,
                    Message::Close(_) => return Ok(()),
                    _ => continue,
                };
                match reply(text.as_str(), sid) {
                    Some(Reply::Packet(packet)) => ws.send(Message::text(packet)).await?,
                    Some(Reply::Burst { count, size, numbered }) => {
                        burst(&mut ws, count, size, numbered.then_some(0)).await?
                    }
                    None => {}
                }
            }
            _ = ping.tick() => ws.send(Message::text("2")).await?,
        }
    }
}

/// One server-to-client WebSocket text frame (unmasked) carrying `payload`.
fn encode_text_frame(payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x81);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// `count` burst events; numbered from `first` when it is given.
async fn burst(ws: &mut Ws, count: u64, size: usize, first: Option<u64>) -> WsResult {
    // Everything tungstenite had buffered was flushed by its last send: the raw socket is ours now.
    ws.flush().await?;
    let stream = ws.get_mut();
    let mut payload = Vec::with_capacity(size + 32);
    let mut chunk = Vec::new();
    if let Some(first) = first {
        let mut number = first;
        while number < first + count {
            chunk.clear();
            let end = (number + CHUNK_FRAMES as u64).min(first + count);
            for i in number..end {
                payload.clear();
                encode_event(size, Some(i), &mut payload);
                encode_text_frame(&payload, &mut chunk);
            }
            stream.write_all(&chunk).await?;
            number = end;
        }
        return Ok(());
    }
    encode_event(size, None, &mut payload);
    let mut frame = Vec::new();
    encode_text_frame(&payload, &mut frame);
    let chunk = frame.repeat(CHUNK_FRAMES);
    let mut left = count;
    while left > 0 {
        let frames = left.min(CHUNK_FRAMES as u64) as usize;
        stream.write_all(&chunk[..frames * frame.len()]).await?;
        left -= frames as u64;
    }
    Ok(())
}

/// The next text frame; None when the WebSocket closed.
async fn next_text(ws: &mut Ws) -> Result<Option<String>, tokio_tungstenite::tungstenite::Error> {
    while let Some(message) = ws.next().await {
        match message? {
            Message::Text(text) => return Ok(Some(text.as_str().to_owned())),
            Message::Close(_) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}

/// The WebSocket of an upgrade (`…&transport=websocket&sid=…`): probe, then `5`, then the session moves here.
async fn upgrade(mut ws: Ws, sid: String, probe_delay: Duration, ping_interval_ms: u64) -> WsResult {
    let Some(session) = SESSIONS.lock().unwrap().get(&sid).cloned() else {
        trace!("upgrade: unknown sid {sid}");
        return Ok(());
    };
    if next_text(&mut ws).await?.as_deref() != Some("2probe") {
        trace!("upgrade {sid}: no probe");
        return Ok(());
    }
    if !probe_delay.is_zero() {
        tokio::time::sleep(probe_delay).await;
    }
    ws.send(Message::text("3probe")).await?;
    session.outbox.lock().unwrap().upgrading = true;
    // Releases the held GET (with `6` when nothing else is queued).
    session.ready.notify_one();
    trace!("upgrade {sid}: probe answered");
    let upgraded = next_text(&mut ws).await?;
    if upgraded.as_deref() != Some("5") {
        // The session stays on polling, as with engine.io.
        trace!("upgrade {sid}: expected 5, got {upgraded:?}");
        session.outbox.lock().unwrap().upgrading = false;
        return Ok(());
    }
    let queue = {
        let mut outbox = session.outbox.lock().unwrap();
        outbox.upgraded = true;
        std::mem::take(&mut outbox.queue)
    };
    // From now on a polling request for this sid is refused (400, session ID unknown).
    SESSIONS.lock().unwrap().remove(&sid);
    session.ready.notify_one();
    trace!("upgrade {sid}: upgraded; {} items queued move to the WebSocket", queue.len());
    for item in queue {
        match item {
            Outgoing::Packet(packet) => ws.send(Message::text(packet)).await?,
            Outgoing::Burst(b) => burst(&mut ws, b.left, b.size, b.run.is_none().then_some(b.next)).await?,
        }
    }
    websocket_session(ws, session.number, ping_interval_ms).await
}

// ---------------------------------------------------------------------------------------------------
// Long-polling

/// The polling sessions by Engine.IO sid (until closed, timed out or upgraded).
static SESSIONS: LazyLock<Mutex<HashMap<String, Arc<Session>>>> = LazyLock::new(Default::default);

struct Session {
    /// The number in its sids (`e…` Engine.IO, `s…` Socket.IO).
    number: u64,
    sid: String,
    outbox: Mutex<Outbox>,
    /// Packets were queued, the upgrade began, or the session ended: a held GET answers.
    ready: Notify,
}

/// What a session owes the client, and its requests in flight.
struct Outbox {
    queue: VecDeque<Outgoing>,
    getting: bool,
    posting: bool,
    /// `3probe` sent: GETs are answered at once (`6` when nothing is queued).
    upgrading: bool,
    upgraded: bool,
    closed: bool,
    last_heard: Instant,
}

enum Outgoing {
    /// One Engine.IO packet (`2`, `40{…}`, `43…`).
    Packet(String),
    Burst(PollingBurst),
}

/// Burst events still owed over polling.
struct PollingBurst {
    left: u64,
    size: usize,
    /// Unnumbered: `42["e","xxx…"]` events joined by `\x1e`, one payload's worth (or the whole burst when
    /// smaller); every response is a slice of it.
    run: Option<Bytes>,
    /// Numbered: the number of the next event.
    next: u64,
}

impl PollingBurst {
    fn new(count: u64, size: usize, numbered: bool) -> Self {
        let run = (!numbered).then(|| {
            let mut event = Vec::new();
            encode_event(size, None, &mut event);
            let fit = ((MAX_PAYLOAD + 1) / (event.len() + 1)).max(1) as u64;
            let events = fit.min(count.max(1)) as usize;
            let mut run = Vec::with_capacity(events * (event.len() + 1));
            for i in 0..events {
                if i > 0 {
                    run.push(SEPARATOR);
                }
                run.extend_from_slice(&event);
            }
            Bytes::from(run)
        });
        Self { left: count, size, run, next: 0 }
    }
}

/// The next GET response: queued packets joined by `\x1e`, at most `max` bytes (at least one packet).
fn take_payload(queue: &mut VecDeque<Outgoing>, max: usize) -> Bytes {
    let mut out: Vec<u8> = Vec::new();
    while let Some(front) = queue.front_mut() {
        let mark = out.len();
        let (done, full) = match front {
            Outgoing::Packet(packet) => {
                if mark > 0 {
                    out.push(SEPARATOR);
                }
                out.extend_from_slice(packet.as_bytes());
                if mark > 0 && out.len() > max {
                    out.truncate(mark);
                    (false, true)
                } else {
                    (true, false)
                }
            }
            Outgoing::Burst(burst) => match &burst.run {
                // A response that starts with an unnumbered burst is a slice of its run.
                Some(run) if mark == 0 => {
                    let event = run.iter().position(|&b| b == SEPARATOR).unwrap_or(run.len());
                    let events = ((run.len() + 1) / (event + 1)) as u64;
                    let take = events.min(burst.left);
                    burst.left -= take;
                    let slice = run.slice(..take as usize * (event + 1) - 1);
                    if burst.left == 0 {
                        queue.pop_front();
                    }
                    return slice;
                }
                _ => {
                    let mut full = false;
                    while burst.left > 0 {
                        let before = out.len();
                        if before > 0 {
                            out.push(SEPARATOR);
                        }
                        encode_event(burst.size, burst.run.is_none().then_some(burst.next), &mut out);
                        if before > 0 && out.len() > max {
                            out.truncate(before);
                            full = true;
                            break;
                        }
                        burst.left -= 1;
                        burst.next += 1;
                    }
                    (burst.left == 0, full)
                }
            },
        };
        if done {
            queue.pop_front();
        }
        if full {
            break;
        }
    }
    Bytes::from(out)
}

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .expect("a static response")
}

/// engine.io's refusal of a polling request: 400 with `{"code":…,"message":…}`.
fn refuse(code: u8, message: &str) -> Response<Full<Bytes>> {
    trace!("refused: {code} {message}");
    respond(StatusCode::BAD_REQUEST, "application/json", format!("{{\"code\":{code},\"message\":\"{message}\"}}"))
}

async fn polling_request(
    request: Request<Incoming>,
    ping_interval_ms: u64,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let query = request.uri().query().unwrap_or_default().to_owned();
    if query_param(&query, "EIO") != Some("4") {
        return Ok(refuse(5, "Unsupported protocol version"));
    }
    if query_param(&query, "transport") != Some("polling") {
        return Ok(refuse(0, "Transport unknown"));
    }
    let Some(sid) = query_param(&query, "sid") else {
        return Ok(if request.method() == Method::GET {
            handshake(ping_interval_ms)
        } else {
            refuse(2, "Bad handshake method")
        });
    };
    let Some(session) = SESSIONS.lock().unwrap().get(sid).cloned() else {
        return Ok(refuse(1, "Session ID unknown"));
    };
    Ok(match *request.method() {
        Method::GET => poll(session).await,
        Method::POST => post(session, request.into_body()).await,
        _ => refuse(3, "Bad request"),
    })
}

fn handshake(ping_interval_ms: u64) -> Response<Full<Bytes>> {
    let number = NEXT_SID.fetch_add(1, Ordering::Relaxed);
    let sid = format!("e{number:019}");
    let session = Arc::new(Session {
        number,
        sid: sid.clone(),
        outbox: Mutex::new(Outbox {
            queue: VecDeque::new(),
            getting: false,
            posting: false,
            upgrading: false,
            upgraded: false,
            closed: false,
            last_heard: Instant::now(),
        }),
        ready: Notify::new(),
    });
    SESSIONS.lock().unwrap().insert(sid.clone(), Arc::clone(&session));
    tokio::spawn(heartbeat(session, ping_interval_ms));
    trace!("handshake {sid}");
    respond(StatusCode::OK, "text/plain; charset=UTF-8", open_packet(number, "\"websocket\"", ping_interval_ms))
}

fn end_session(session: &Session, why: &str) {
    session.outbox.lock().unwrap().closed = true;
    SESSIONS.lock().unwrap().remove(&session.sid);
    session.ready.notify_one();
    trace!("session {} ended: {why}", session.sid);
}

/// Pings every interval; drops a session not heard from for ping interval + ping timeout.
async fn heartbeat(session: Arc<Session>, ping_interval_ms: u64) {
    let period = Duration::from_millis(ping_interval_ms);
    let silence = Duration::from_millis(ping_interval_ms + PING_TIMEOUT_MS);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        {
            let mut outbox = session.outbox.lock().unwrap();
            if outbox.closed || outbox.upgraded {
                return;
            }
            if outbox.last_heard.elapsed() <= silence {
                outbox.queue.push_back(Outgoing::Packet("2".to_owned()));
                drop(outbox);
                session.ready.notify_one();
                continue;
            }
        }
        return end_session(&session, "ping timeout");
    }
}

/// Clears a request-in-flight flag when the request ends (answered, or its connection gone).
struct InFlight<'s> {
    session: &'s Session,
    get: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut outbox = self.session.outbox.lock().unwrap();
        if self.get {
            outbox.getting = false;
        } else {
            outbox.posting = false;
        }
    }
}

/// A GET: held until there is something to answer.
async fn poll(session: Arc<Session>) -> Response<Full<Bytes>> {
    {
        let mut outbox = session.outbox.lock().unwrap();
        if outbox.getting {
            drop(outbox);
            end_session(&session, "GET overlap");
            return refuse(3, "Bad request");
        }
        outbox.getting = true;
        outbox.last_heard = Instant::now();
    }
    let _in_flight = InFlight { session: &session, get: true };
    loop {
        {
            let mut outbox = session.outbox.lock().unwrap();
            let body = if outbox.closed {
                Some(Bytes::from_static(b"1"))
            } else if !outbox.queue.is_empty() {
                Some(take_payload(&mut outbox.queue, MAX_PAYLOAD))
            } else if outbox.upgrading {
                Some(Bytes::from_static(b"6"))
            } else {
                None
            };
            if let Some(body) = body {
                trace!("GET {}: {} bytes", session.sid, body.len());
                return respond(StatusCode::OK, "text/plain; charset=UTF-8", body);
            }
        }
        // A notification sent since the check above is kept for this wait (Notify stores one permit).
        session.ready.notified().await;
    }
}

/// A POST: the client's packets.
async fn post(session: Arc<Session>, body: Incoming) -> Response<Full<Bytes>> {
    {
        let mut outbox = session.outbox.lock().unwrap();
        if outbox.posting {
            drop(outbox);
            end_session(&session, "POST overlap");
            return refuse(3, "Bad request");
        }
        outbox.posting = true;
        outbox.last_heard = Instant::now();
    }
    let _in_flight = InFlight { session: &session, get: false };
    let body = match Limited::new(body, MAX_PAYLOAD).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            end_session(&session, "POST body");
            trace!("POST {}: {e}", session.sid);
            return respond(StatusCode::PAYLOAD_TOO_LARGE, "text/html", "");
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        end_session(&session, "POST not UTF-8");
        return refuse(3, "Bad request");
    };
    trace!("POST {}: {} bytes", session.sid, body.len());
    let mut queued = false;
    for packet in text.split(SEPARATOR as char) {
        if packet == "1" {
            end_session(&session, "close packet");
            break;
        }
        let item = match reply(packet, session.number) {
            Some(Reply::Packet(packet)) => Outgoing::Packet(packet),
            Some(Reply::Burst { count, size, numbered }) => Outgoing::Burst(PollingBurst::new(count, size, numbered)),
            None => continue,
        };
        session.outbox.lock().unwrap().queue.push_back(item);
        queued = true;
    }
    if queued {
        session.ready.notify_one();
    }
    respond(StatusCode::OK, "text/html", "ok")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(mut queue: VecDeque<Outgoing>, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        while !queue.is_empty() {
            out.push(String::from_utf8(take_payload(&mut queue, max).to_vec()).unwrap());
        }
        out
    }

    #[test]
    fn payloads_join_packets_up_to_the_limit() {
        let queue = ["2", "40{}", "431[]"].map(|p| Outgoing::Packet(p.to_owned())).into();
        assert_eq!(payloads(queue, 9), ["2\x1e40{}", "431[]"]);
    }

    #[test]
    fn bursts_are_split_into_payloads_in_order() {
        // Packets before and after a burst share its payload while they fit.
        let mut queue = VecDeque::new();
        queue.push_back(Outgoing::Packet("40{}".to_owned()));
        queue.push_back(Outgoing::Burst(PollingBurst::new(5, 2, false)));
        queue.push_back(Outgoing::Packet("2".to_owned()));
        let event = "42[\"e\",\"xx\"]";
        let got = payloads(queue, MAX_PAYLOAD);
        assert_eq!(got, ["40{}\x1e".to_owned() + &[event; 5].join("\x1e") + "\x1e2"]);

        let mut queue = VecDeque::new();
        queue.push_back(Outgoing::Burst(PollingBurst::new(3, 1, true)));
        assert_eq!(payloads(queue, 23), ["42[\"e\",0,\"x\"]", "42[\"e\",1,\"x\"]", "42[\"e\",2,\"x\"]"]);
    }

    #[test]
    fn an_unnumbered_burst_fills_each_payload() {
        let mut queue = VecDeque::new();
        queue.push_back(Outgoing::Burst(PollingBurst::new(20_000, 64, false)));
        let got = payloads(queue, MAX_PAYLOAD);
        let events: usize = got.iter().map(|p| p.split('\x1e').count()).sum();
        assert_eq!(events, 20_000);
        assert!(got.iter().all(|p| p.len() <= MAX_PAYLOAD));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn bursts_parse() {
        assert_eq!(parse_burst("[\"burst\",10,64]"), Some((10, 64, false)));
        assert_eq!(parse_burst("[\"burst\",10,64,true]"), Some((10, 64, true)));
        assert_eq!(parse_burst("[\"burst\",10,64,1]"), None);
    }
}
