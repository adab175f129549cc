//! Happy Eyeballs (RFC 8305): try a host's addresses IPv6 first, alternating families, starting the
//! next attempt when the current one fails or after a short stagger, and keep the first to connect.
//! One dead address family (a broken IPv6 route, a blackholed address) then costs 250 ms, not an
//! attempt's whole timeout.

use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// RFC 8305's recommended "Connection Attempt Delay".
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// IPv6 first, then the families alternate (RFC 8305 section 4), each family keeping its order.
pub fn interleave(addresses: &[SocketAddr]) -> Vec<SocketAddr> {
    let (mut v6, mut v4): (Vec<SocketAddr>, Vec<SocketAddr>) = addresses.iter().partition(|a| a.is_ipv6());
    v6.reverse();
    v4.reverse();
    let mut ordered = Vec::with_capacity(addresses.len());
    while !v6.is_empty() || !v4.is_empty() {
        ordered.extend(v6.pop());
        ordered.extend(v4.pop());
    }
    ordered
}

/// Connects to one of `addresses` (in the order given) with `connect`; the first success wins and the
/// other attempts are dropped. Fails with the last error when every address failed.
pub async fn connect_first<S, F, Fut>(addresses: &[SocketAddr], delay: Duration, connect: F) -> io::Result<S>
where
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let mut next = addresses.iter().copied().peekable();
    let mut running = FuturesUnordered::new();
    let mut last_error = None;
    loop {
        if running.is_empty() {
            match next.next() {
                Some(address) => running.push(connect(address)),
                None => return Err(last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))),
            }
        }
        let more = next.peek().is_some();
        tokio::select! {
            Some(result) = running.next() => match result {
                Ok(stream) => return Ok(stream),
                // A failure starts the next attempt at once.
                Err(error) => {
                    last_error = Some(error);
                    if let Some(address) = next.next() {
                        running.push(connect(address));
                    }
                }
            },
            _ = tokio::time::sleep(delay), if more => {
                if let Some(address) = next.next() {
                    running.push(connect(address));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_first_then_alternating() {
        let input = [addr("10.0.0.1:1"), addr("10.0.0.2:1"), addr("[::1]:1"), addr("10.0.0.3:1"), addr("[::2]:1")];
        let expected = [addr("[::1]:1"), addr("10.0.0.1:1"), addr("[::2]:1"), addr("10.0.0.2:1"), addr("10.0.0.3:1")];
        assert_eq!(interleave(&input), expected);
        assert_eq!(interleave(&[addr("10.0.0.1:1")]), [addr("10.0.0.1:1")]);
        assert!(interleave(&[]).is_empty());
    }

    /// A fake network: each address hangs, refuses at once, or connects after a delay.
    #[derive(Clone, Copy)]
    enum Fate {
        Hang,
        Refuse,
        ConnectAfter(u64),
    }

    async fn run(plan: &[(SocketAddr, Fate)], delay_ms: u64) -> (io::Result<SocketAddr>, Vec<(SocketAddr, u64)>, u64) {
        let start = Instant::now();
        let started = Arc::new(Mutex::new(Vec::new()));
        let addresses: Vec<_> = plan.iter().map(|(a, _)| *a).collect();
        let result = connect_first(&addresses, Duration::from_millis(delay_ms), |address| {
            let fate = plan.iter().find(|(a, _)| *a == address).unwrap().1;
            started.lock().unwrap().push((address, start.elapsed().as_millis() as u64));
            async move {
                match fate {
                    Fate::Hang => std::future::pending().await,
                    Fate::Refuse => Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("{address} refused"))),
                    Fate::ConnectAfter(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        Ok(address)
                    }
                }
            }
        })
        .await;
        let elapsed = start.elapsed().as_millis() as u64;
        let started = started.lock().unwrap().clone();
        (result, started, elapsed)
    }

    #[tokio::test]
    async fn a_hanging_family_costs_one_delay() {
        let (v6, v4) = (addr("[2001:db8::1]:443"), addr("192.0.2.1:443"));
        let (result, started, elapsed) = run(&[(v6, Fate::Hang), (v4, Fate::ConnectAfter(10))], 100).await;
        assert_eq!(result.unwrap(), v4);
        assert_eq!(started.len(), 2);
        assert!(started[1].1 >= 100 && started[1].1 < 400, "IPv4 started at {} ms", started[1].1);
        assert!(elapsed < 500, "connected after {elapsed} ms");
    }

    #[tokio::test]
    async fn a_refusal_starts_the_next_address_at_once() {
        let (v6, v4) = (addr("[::1]:1"), addr("127.0.0.1:1"));
        let (result, started, _) = run(&[(v6, Fate::Refuse), (v4, Fate::ConnectAfter(0))], 5000).await;
        assert_eq!(result.unwrap(), v4);
        assert!(started[1].1 < 1000, "IPv4 started at {} ms, not at once", started[1].1);
    }

    #[tokio::test]
    async fn the_first_to_connect_wins() {
        let (a, b) = (addr("[::1]:1"), addr("127.0.0.1:1"));
        // The first attempt is slow (300 ms); the second, started at 50 ms, connects at 60 ms.
        let (result, _, elapsed) = run(&[(a, Fate::ConnectAfter(300)), (b, Fate::ConnectAfter(10))], 50).await;
        assert_eq!(result.unwrap(), b);
        assert!(elapsed < 250, "{elapsed} ms");
    }

    #[tokio::test]
    async fn every_address_failing_gives_the_last_error() {
        let (a, b) = (addr("[::1]:1"), addr("127.0.0.1:1"));
        let (result, started, _) = run(&[(a, Fate::Refuse), (b, Fate::Refuse)], 5000).await;
        assert_eq!(started.len(), 2);
        assert!(result.unwrap_err().to_string().contains("127.0.0.1:1 refused"));
        assert!(run(&[], 10).await.0.is_err());
    }

    /// A loopback address that swallows connection attempts: a listener whose accept queue is full
    /// (backlog 0, never accepting) drops further SYNs, so a connect there hangs like a blackholed route.
    fn blackholed_listener() -> (std::net::TcpListener, Vec<std::net::TcpStream>) {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: a valid listening socket; listen() again only changes its backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let address = listener.local_addr().unwrap();
        let mut filling = Vec::new();
        for _ in 0..16 {
            match std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
                Ok(stream) => filling.push(stream),
                Err(_) => return (listener, filling),
            }
        }
        panic!("the accept queue never filled");
    }

    #[tokio::test]
    async fn real_sockets_a_blackholed_address_costs_one_delay() {
        let (dead, _filling) = blackholed_listener();
        let alive = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addresses = [dead.local_addr().unwrap(), alive.local_addr().unwrap()];
        let start = Instant::now();
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            connect_first(&addresses, ATTEMPT_DELAY, tokio::net::TcpStream::connect),
        )
        .await
        .expect("stuck on the blackholed address")
        .unwrap();
        let elapsed = start.elapsed();
        assert_eq!(stream.peer_addr().unwrap(), addresses[1]);
        assert!(elapsed >= ATTEMPT_DELAY && elapsed < Duration::from_secs(2), "connected after {elapsed:?}");
    }
}
