//! burst-server: the native peer of `make bench`, one thread (pin it to a core with taskset), so that the
//! client under test is the bottleneck.
//!
//! On `/socket.io/?EIO=4&transport=websocket` it speaks just enough Engine.IO v4 / Socket.IO v5:
//! - sends the open packet `0{"sid":…,"upgrades":[],"pingInterval":…,"pingTimeout":20000,"maxPayload":1000000}`
//!   and then pings (`2`) every ping interval (the client answers `3`);
//! - answers the CONNECT of the main namespace (`40…`) with `40{"sid":…}`;
//! - `42["burst",N,SIZE]`: writes N text frames `42["e","xxx…"]` (SIZE bytes of string), pre-encoded: one
//!   chunk of ready WebSocket frames written again and again straight to the socket (no per-frame work);
//! - `42<id>[…]` (an event asking for an ack): answers `43<id>[…]` (the same arguments) at once.
//!
//! On any other path (`/raw`) it is a plain WebSocket echo (text and binary), the round-trip baseline.
//!
//! Usage: burst-server [--ping-interval MS]; prints `port <n>` on stdout once listening on 127.0.0.1.

use futures_util::{SinkExt, StreamExt};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Frames per pre-encoded chunk of a burst.
const CHUNK_FRAMES: usize = 1024;

static NEXT_SID: AtomicU64 = AtomicU64::new(1);

fn main() {
    let mut ping_interval_ms: u64 = 25_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ping-interval" => {
                ping_interval_ms = args.next().and_then(|v| v.parse().ok()).expect("--ping-interval MS");
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
    let mut path = String::new();
    // Small buffers: 10 k idle connections must fit.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let ws = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |request: &Request, response: Response| {
            path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
            Ok(response)
        },
        Some(config),
    )
    .await;
    let Ok(ws) = ws else { return };
    if path.starts_with("/socket.io/") {
        let _ = socket_io(ws, ping_interval_ms).await;
    } else {
        let _ = echo(ws).await;
    }
}

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
    ws.send(Message::text(format!(
        "0{{\"sid\":\"e{sid:019}\",\"upgrades\":[],\"pingInterval\":{ping_interval_ms},\"pingTimeout\":20000,\"maxPayload\":1000000}}"
    )))
    .await?;
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
                let text = text.as_str();
                if let Some(rest) = text.strip_prefix("40") {
                    // CONNECT of the main namespace (with or without auth).
                    if rest.is_empty() || rest.starts_with('{') {
                        ws.send(Message::text(format!("40{{\"sid\":\"s{sid:019}\"}}"))).await?;
                    }
                } else if let Some(rest) = text.strip_prefix("42") {
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    if digits > 0 {
                        ws.send(Message::text(format!("43{rest}"))).await?;
                    } else if let Some((count, size)) = parse_burst(rest) {
                        burst(&mut ws, count, size).await?;
                    }
                }
                // `3` (pong) and anything else: nothing to do.
            }
            _ = ping.tick() => ws.send(Message::text("2")).await?,
        }
    }
}

/// `["burst",N,SIZE]` → (N, SIZE).
fn parse_burst(args: &str) -> Option<(u64, usize)> {
    let inner = args.strip_prefix("[\"burst\",")?.strip_suffix(']')?;
    let (count, size) = inner.split_once(',')?;
    Some((count.trim().parse().ok()?, size.trim().parse().ok()?))
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

async fn burst(ws: &mut Ws, count: u64, size: usize) -> WsResult {
    let mut payload = Vec::with_capacity(size + 8);
    payload.extend_from_slice(b"42[\"e\",\"");
    payload.resize(payload.len() + size, b'x');
    payload.extend_from_slice(b"\"]");
    let mut frame = Vec::new();
    encode_text_frame(&payload, &mut frame);
    let chunk = frame.repeat(CHUNK_FRAMES);
    // Everything tungstenite had buffered was flushed by its last send: the raw socket is ours now.
    ws.flush().await?;
    let stream = ws.get_mut();
    let mut left = count;
    while left > 0 {
        let frames = left.min(CHUNK_FRAMES as u64) as usize;
        stream.write_all(&chunk[..frames * frame.len()]).await?;
        left -= frames as u64;
    }
    Ok(())
}
