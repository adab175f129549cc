//! Host name resolution on a small fixed pool of threads, whatever the number of clients.
//!
//! `getaddrinfo` blocks, so it cannot run on the IO threads; tokio's blocking pool would run it, but
//! that pool grows to 512 threads (one per name being resolved at once: 200 clients to `localhost`
//! made ~95 threads). Here two threads take lookups from a bounded queue: a caller waits for room
//! in the queue, never for a thread to be started.

use once_cell::sync::Lazy;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Threads that run `getaddrinfo`.
pub const RESOLVER_THREADS: usize = 2;

/// Lookups waiting for a resolver thread; more callers wait for room.
const QUEUE_LENGTH: usize = 256;

struct Lookup {
    host: String,
    port: u16,
    reply: oneshot::Sender<io::Result<Vec<SocketAddr>>>,
}

static QUEUE: Lazy<mpsc::Sender<Lookup>> = Lazy::new(|| {
    let (sender, receiver) = mpsc::channel::<Lookup>(QUEUE_LENGTH);
    let receiver = Arc::new(Mutex::new(receiver));
    for index in 0..RESOLVER_THREADS {
        let receiver = Arc::clone(&receiver);
        // A thread that cannot be started leaves the others; with none, lookups fail (the
        // receiver is gone) instead of panicking on an IO thread.
        let _ = std::thread::Builder::new().name(format!("realtime-dns-{index}")).spawn(move || loop {
            let lookup = receiver.lock().unwrap_or_else(|p| p.into_inner()).blocking_recv();
            let Some(lookup) = lookup else {
                return;
            };
            // The attempt that asked was dropped meanwhile (freed client, timeout, reconnect_now).
            if lookup.reply.is_closed() {
                continue;
            }
            let result = (lookup.host.as_str(), lookup.port).to_socket_addrs().map(Iterator::collect);
            let _ = lookup.reply.send(result);
        });
    }
    sender
});

/// Every address of `host` (a name or an IP literal without brackets), in the resolver's order.
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (reply, answer) = oneshot::channel();
    let no_resolver = || io::Error::other("no resolver thread could be started");
    QUEUE.send(Lookup { host: host.to_owned(), port, reply }).await.map_err(|_| no_resolver())?;
    let addresses = answer.await.map_err(|_| no_resolver())??;
    if addresses.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")));
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_names_and_literals() {
        let addresses = resolve("localhost", 80).await.unwrap();
        assert!(addresses.iter().all(|a| a.port() == 80 && a.ip().is_loopback()), "{addresses:?}");
        assert_eq!(resolve("::1", 443).await.unwrap(), vec!["[::1]:443".parse().unwrap()]);
        assert_eq!(resolve("127.0.0.1", 1).await.unwrap(), vec!["127.0.0.1:1".parse().unwrap()]);
        assert!(resolve("name.invalid", 80).await.is_err());
    }
}
