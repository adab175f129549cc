//! raw-client: the baselines of `make bench`, a bare tokio-tungstenite client on one thread
//! (a current-thread runtime; pin it to a core with taskset). Each mode prints one JSON line.
//!
//!   raw-client count PORT N SIZE   Engine.IO open, `40` → `40{…}`, `42["burst",N,SIZE]`, then count N
//!                                  frames: events/s and CPU-seconds per million frames (getrusage)
//!   raw-client echo PORT M         M sequential round trips of a 20-byte text frame through the server's
//!                                  plain WebSocket echo (`/raw`): p50/p99 in µs
//!   raw-client connect PORT M      M times: TCP connect + WebSocket upgrade + Engine.IO open packet +
//!                                  `40` → `40{…}` (one round trip): p50/p99 in µs

use futures_util::{SinkExt, StreamExt};
use std::time::Instant;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

/// Frames of the warm-up burst before the measured one (also what the library bench does).
const WARMUP_FRAMES: u64 = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> u64 { args.get(i).and_then(|v| v.parse().ok()).unwrap_or_else(|| usage()) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let port = number(1) as u16;
    match args.first().map(String::as_str) {
        Some("count") => runtime.block_on(count(port, number(2), number(3) as usize)),
        Some("echo") => runtime.block_on(echo(port, number(2) as usize)),
        Some("connect") => runtime.block_on(connect_rounds(port, number(2) as usize)),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: raw-client count PORT N SIZE | echo PORT M | connect PORT M");
    std::process::exit(2)
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

async fn open(port: u16, path: &str) -> Ws {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let url = format!("ws://127.0.0.1:{port}{path}");
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.expect("websocket upgrade");
    ws
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

/// Connect, Engine.IO open, Socket.IO CONNECT: the minimal handshake.
async fn socket_io(port: u16) -> Ws {
    let mut ws = open(port, "/socket.io/?EIO=4&transport=websocket").await;
    let opening = next_text(&mut ws).await;
    assert!(opening.starts_with("0{"), "open packet: {opening}");
    ws.send(Message::text("40")).await.expect("send 40");
    let connected = next_text(&mut ws).await;
    assert!(connected.starts_with("40"), "connect answer: {connected}");
    ws
}

async fn count_frames(ws: &mut Ws, n: u64, size: usize) {
    ws.send(Message::text(format!("42[\"burst\",{n},{size}]"))).await.expect("send burst");
    let mut seen = 0u64;
    while seen < n {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                if text.as_bytes().starts_with(b"42") {
                    seen += 1;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended after {seen} frames: {other:?}"),
        }
    }
}

async fn count(port: u16, n: u64, size: usize) {
    let mut ws = socket_io(port).await;
    count_frames(&mut ws, WARMUP_FRAMES, size).await;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    count_frames(&mut ws, n, size).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "{{\"events\":{n},\"seconds\":{elapsed:.6},\"events_per_s\":{:.0},\"cpu_s_per_million\":{:.4}}}",
        n as f64 / elapsed,
        cpu / n as f64 * 1e6
    );
}

fn percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

async fn echo(port: u16, m: usize) {
    let mut ws = open(port, "/raw").await;
    let mut samples = Vec::with_capacity(m);
    for i in 0..(m + m / 10) {
        // The size of the library's ack request `42<id>["ack",<i>]`.
        let frame = format!("42{i}[\"ack\",{i}]");
        let t0 = Instant::now();
        ws.send(Message::text(frame)).await.expect("send");
        next_text(&mut ws).await;
        if i >= m / 10 {
            samples.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    let (p50, p99) = percentiles(samples);
    println!("{{\"round_trips\":{m},\"p50_us\":{p50:.1},\"p99_us\":{p99:.1}}}");
}

async fn connect_rounds(port: u16, m: usize) {
    let mut samples = Vec::with_capacity(m);
    for i in 0..(m + m / 10) {
        let t0 = Instant::now();
        let mut ws = socket_io(port).await;
        let dt = t0.elapsed().as_secs_f64() * 1e6;
        let _ = ws.close(None).await;
        if i >= m / 10 {
            samples.push(dt);
        }
    }
    let (p50, p99) = percentiles(samples);
    println!("{{\"connects\":{m},\"p50_us\":{p50:.1},\"p99_us\":{p99:.1}}}");
}
