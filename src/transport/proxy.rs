//! Tunnels to the origin through a proxy: HTTP CONNECT (RFC 9110 section 9.3.6, with Basic
//! credentials) and SOCKS5 (RFC 1928, with RFC 1929 user/password). TLS to the origin, when asked
//! for, runs inside the tunnel.

use super::TransportError;
use base64::Engine as _;
use std::net::IpAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use url::Url;

/// Largest HTTP response head accepted from a proxy.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    HttpConnect,
    /// `socks5://`: the client resolves the origin's name; `socks5h://`: the proxy does.
    Socks5 {
        remote_dns: bool,
    },
}

/// A proxy from the `proxy` option.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: Kind,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display_url()) // never the credentials
    }
}

impl Proxy {
    /// `http://[user:password@]host[:port]` (port 80 by default), `socks5://…` or `socks5h://…` (1080).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid proxy {:?}: {why}", redact(text));
        let url = Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        let (kind, default_port) = match url.scheme() {
            "http" => (Kind::HttpConnect, 80),
            "socks5" => (Kind::Socks5 { remote_dns: false }, 1080),
            "socks5h" => (Kind::Socks5 { remote_dns: true }, 1080),
            _ => return Err(bad("the scheme must be http, socks5 or socks5h")),
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let decode = |s: &str| percent_decode(s).ok_or_else(|| bad("credentials are not valid UTF-8"));
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, password) => Some((decode(user)?, decode(password.unwrap_or(""))?)),
        };
        if let (Kind::Socks5 { .. }, Some((user, password))) = (kind, &credentials) {
            if user.len() > 255 || password.len() > 255 {
                return Err(bad("SOCKS5 user names and passwords hold at most 255 bytes"));
            }
        }
        Ok(Self { kind, host, port: url.port().unwrap_or(default_port), credentials })
    }

    /// An HTTP proxy (CONNECT, or absolute-form requests for plain `http://` polling).
    pub fn is_http(&self) -> bool {
        self.kind == Kind::HttpConnect
    }

    /// `Proxy-Authorization` for absolute-form requests through an HTTP proxy, if it has credentials.
    pub fn authorization(&self) -> Option<String> {
        let (user, password) = self.credentials.as_ref()?;
        Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))))
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The proxy's URL without credentials, for messages.
    pub fn display_url(&self) -> String {
        let scheme = match self.kind {
            Kind::HttpConnect => "http",
            Kind::Socks5 { remote_dns: false } => "socks5",
            Kind::Socks5 { remote_dns: true } => "socks5h",
        };
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("{scheme}://[{}]:{}", self.host, self.port),
            _ => format!("{scheme}://{}:{}", self.host, self.port),
        }
    }

    fn refused(&self, status: Option<u16>, status_line: String) -> TransportError {
        TransportError::Proxy { proxy: self.display_url(), status, status_line }
    }

    fn io_error(&self, error: std::io::Error) -> TransportError {
        TransportError::Io(format!("proxy {}: {error}", self.display_url()))
    }

    /// Asks the proxy, over `stream` (connected to it), for a tunnel to `host:port`.
    pub async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        host: &str,
        port: u16,
    ) -> Result<(), TransportError> {
        match self.kind {
            Kind::HttpConnect => self.http_connect(stream, host, port).await,
            Kind::Socks5 { remote_dns } => self.socks5(stream, host, port, remote_dns).await,
        }
    }

    async fn http_connect<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        host: &str,
        port: u16,
    ) -> Result<(), TransportError> {
        let authority = match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{host}]:{port}"),
            _ => format!("{host}:{port}"),
        };
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some((user, password)) = &self.credentials {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| self.io_error(e))?;
        // Byte by byte up to the end of the head: nothing of the tunnel may be read here.
        let mut head = Vec::with_capacity(256);
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= MAX_RESPONSE_HEAD {
                return Err(self.refused(None, "response head too long".to_owned()));
            }
            let byte = stream.read_u8().await.map_err(|e| self.io_error(e))?;
            head.push(byte);
        }
        let status_line = String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or_default()).into_owned();
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let status = match response.parse(&head) {
            Ok(httparse::Status::Complete(_)) => response.code,
            _ => None,
        };
        match status {
            Some(code) if (200..300).contains(&code) => Ok(()),
            Some(code) => Err(self.refused(Some(code), status_line)),
            None => Err(self.refused(None, format!("not an HTTP response: {status_line}"))),
        }
    }

    async fn socks5<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        host: &str,
        port: u16,
        remote_dns: bool,
    ) -> Result<(), TransportError> {
        let io = |e| self.io_error(e);
        // Greeting: the methods offered (0: none, 2: user/password).
        let greeting: &[u8] = if self.credentials.is_some() { &[5, 2, 0, 2] } else { &[5, 1, 0] };
        stream.write_all(greeting).await.map_err(io)?;
        let mut choice = [0u8; 2];
        stream.read_exact(&mut choice).await.map_err(io)?;
        if choice[0] != 5 {
            return Err(self.refused(None, format!("not a SOCKS5 proxy (version {})", choice[0])));
        }
        match (choice[1], &self.credentials) {
            (0, _) => {}
            (2, Some((user, password))) => {
                let mut auth = vec![1, user.len() as u8];
                auth.extend_from_slice(user.as_bytes());
                auth.push(password.len() as u8);
                auth.extend_from_slice(password.as_bytes());
                stream.write_all(&auth).await.map_err(io)?;
                let mut answer = [0u8; 2];
                stream.read_exact(&mut answer).await.map_err(io)?;
                if answer[1] != 0 {
                    return Err(self.refused(None, "SOCKS5 authentication failed".to_owned()));
                }
            }
            (0xff, _) | (_, None) => {
                let needs = if self.credentials.is_some() { "" } else { " (it may need a user and password)" };
                return Err(self.refused(None, format!("SOCKS5 proxy accepts none of the offered methods{needs}")));
            }
            (method, _) => return Err(self.refused(None, format!("SOCKS5 proxy chose unknown method {method}"))),
        }
        // CONNECT to an IP address, or to the name (socks5h, or an IP literal).
        let mut request = vec![5, 1, 0];
        let address = match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) if remote_dns => {
                if host.len() > 255 {
                    return Err(self.refused(None, "host name too long for SOCKS5".to_owned()));
                }
                request.push(3);
                request.push(host.len() as u8);
                request.extend_from_slice(host.as_bytes());
                request.extend_from_slice(&port.to_be_bytes());
                return self.socks5_request(stream, &request).await;
            }
            Err(_) => {
                let addresses = super::resolve::resolve(host, port)
                    .await
                    .map_err(|e| TransportError::Io(format!("cannot resolve {host}: {e}")))?;
                addresses[0].ip()
            }
        };
        match address {
            IpAddr::V4(v4) => {
                request.push(1);
                request.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                request.push(4);
                request.extend_from_slice(&v6.octets());
            }
        }
        request.extend_from_slice(&port.to_be_bytes());
        self.socks5_request(stream, &request).await
    }

    async fn socks5_request<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        request: &[u8],
    ) -> Result<(), TransportError> {
        let io = |e| self.io_error(e);
        stream.write_all(request).await.map_err(io)?;
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).await.map_err(io)?;
        if reply[1] != 0 {
            return Err(self.refused(None, format!("SOCKS5 reply {}: {}", reply[1], socks5_reply_text(reply[1]))));
        }
        // The bound address, read and dropped.
        let length = match reply[3] {
            1 => 4,
            4 => 16,
            3 => usize::from(stream.read_u8().await.map_err(io)?),
            other => return Err(self.refused(None, format!("SOCKS5 reply with address type {other}"))),
        };
        let mut bound = vec![0u8; length + 2];
        stream.read_exact(&mut bound).await.map_err(io)?;
        Ok(())
    }
}

fn socks5_reply_text(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

/// The URL with its credentials replaced, for error messages.
fn redact(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("***");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(text.get(i + 1..i + 3)?, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Proxies named by the environment, as curl reads them: `http_proxy` for plain origins,
/// `https_proxy` for TLS ones, `all_proxy` for both when the specific one is unset (each variable
/// lower-case first, then upper-case; empty means unset), and `no_proxy` (comma-separated host
/// names, domain suffixes such as `.example.com` or `example.com`, IP addresses, each with an
/// optional `:port`; `*` for every host) naming the origins reached directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentProxies {
    http: Option<(String, String)>,
    https: Option<(String, String)>,
    all: Option<(String, String)>,
    no_proxy: Vec<String>,
}

impl EnvironmentProxies {
    /// Reads the process environment.
    pub fn from_environment() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let read = |lower: &str| {
            let upper = lower.to_ascii_uppercase();
            [lower.to_owned(), upper]
                .into_iter()
                .find_map(|name| lookup(&name).filter(|v| !v.trim().is_empty()).map(|v| (name, v.trim().to_owned())))
        };
        let no_proxy = read("no_proxy")
            .map(|(_, list)| {
                list.split(',').map(|entry| entry.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).collect()
            })
            .unwrap_or_default();
        Self { http: read("http_proxy"), https: read("https_proxy"), all: read("all_proxy"), no_proxy }
    }

    /// The proxy for an origin, if the environment names one and `no_proxy` does not exclude the
    /// host: `Ok(None)` to connect directly; an error names the variable whose URL is invalid.
    pub fn proxy_for(&self, host: &str, port: u16, secure: bool) -> Result<Option<Proxy>, String> {
        let specific = if secure { &self.https } else { &self.http };
        let Some((name, value)) = specific.as_ref().or(self.all.as_ref()) else {
            return Ok(None);
        };
        if self.excludes(host, port) {
            return Ok(None);
        }
        // curl's convention: a proxy without a scheme is an HTTP proxy.
        let url = if value.contains("://") { value.clone() } else { format!("http://{value}") };
        Proxy::parse(&url).map(Some).map_err(|e| format!("{name}: {e}"))
    }

    fn excludes(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        self.no_proxy.iter().any(|entry| {
            if entry == "*" {
                return true;
            }
            // An optional port: `host:port`, `[v6]:port`; a bare IPv6 address has several colons.
            let (name, entry_port) = match entry.rsplit_once(':') {
                Some((name, p)) if !name.contains(':') || name.ends_with(']') => match p.parse::<u16>() {
                    Ok(p) => (name, Some(p)),
                    Err(_) => (entry.as_str(), None),
                },
                _ => (entry.as_str(), None),
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let name = name.trim_start_matches('[').trim_end_matches(']');
            let name = name.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.');
            if name.is_empty() {
                return false;
            }
            if name.parse::<IpAddr>().is_ok() || host.parse::<IpAddr>().is_ok() {
                return name.parse::<IpAddr>().ok() == host.parse::<IpAddr>().ok();
            }
            host == name || host.ends_with(&format!(".{name}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_urls() {
        let p = Proxy::parse("http://user:p%40ss@127.0.0.1:3128").unwrap();
        assert_eq!((p.kind, p.host.as_str(), p.port), (Kind::HttpConnect, "127.0.0.1", 3128));
        assert_eq!(p.credentials, Some(("user".to_owned(), "p@ss".to_owned())));
        assert_eq!(format!("{p:?}"), "http://127.0.0.1:3128");
        let p = Proxy::parse("socks5h://[::1]").unwrap();
        assert_eq!((p.kind, p.host.as_str(), p.port), (Kind::Socks5 { remote_dns: true }, "::1", 1080));
        assert_eq!(p.display_url(), "socks5h://[::1]:1080");
        assert_eq!(Proxy::parse("socks5://h").unwrap().credentials, None);
        assert!(Proxy::parse("ftp://h").is_err());
        assert!(Proxy::parse("nonsense").is_err());
        let err = Proxy::parse("ftp://secret:pw@h").unwrap_err();
        assert!(!err.contains("secret") && !err.contains("pw@"), "{err}");
    }

    #[tokio::test]
    async fn http_connect_refusal_carries_the_status_line() {
        let proxy = Proxy::parse("http://u:p@127.0.0.1:1").unwrap();
        let (mut client, mut server) = tokio::io::duplex(4096);
        let answer = tokio::spawn(async move {
            let mut request = vec![0u8; 4096];
            let n = server.read(&mut request).await.unwrap();
            server.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n").await.unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        let result = proxy.tunnel(&mut client, "example.com", 443).await;
        let request = answer.await.unwrap();
        assert!(request.starts_with("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"), "{request}");
        assert!(request.contains("Proxy-Authorization: Basic dTpw\r\n"), "{request}");
        match result {
            Err(TransportError::Proxy { status: Some(407), status_line, .. }) => {
                assert_eq!(status_line, "HTTP/1.1 407 Proxy Authentication Required")
            }
            other => panic!("{other:?}"),
        }
    }

    /// RFC 1928 / 1929 bytes, against a scripted peer (no SOCKS5 server with user/password runs here
    /// without a system account: danted's `username` method checks the system's passwords).
    #[tokio::test]
    async fn socks5_with_user_and_password() {
        let proxy = Proxy::parse("socks5h://alice:s3cret@127.0.0.1:1").unwrap();
        let (mut client, mut server) = tokio::io::duplex(4096);
        let peer = tokio::spawn(async move {
            let mut greeting = [0u8; 4];
            server.read_exact(&mut greeting).await.unwrap();
            assert_eq!(greeting, [5, 2, 0, 2], "methods offered: none and user/password");
            server.write_all(&[5, 2]).await.unwrap();
            let mut auth = [0u8; 1 + 1 + 5 + 1 + 6];
            server.read_exact(&mut auth).await.unwrap();
            assert_eq!(&auth, b"\x01\x05alice\x06s3cret");
            server.write_all(&[1, 0]).await.unwrap();
            let mut request = [0u8; 5 + 11 + 2];
            server.read_exact(&mut request).await.unwrap();
            assert_eq!(&request[..5], &[5, 1, 0, 3, 11]);
            assert_eq!(&request[5..16], b"example.com");
            assert_eq!(&request[16..], &443u16.to_be_bytes());
            server.write_all(&[5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90]).await.unwrap();
            server
        });
        proxy.tunnel(&mut client, "example.com", 443).await.unwrap();
        let mut server = peer.await.unwrap();
        // Nothing of the tunnel was consumed: what follows reaches the other side intact.
        client.write_all(b"hello").await.unwrap();
        let mut hello = [0u8; 5];
        server.read_exact(&mut hello).await.unwrap();
        assert_eq!(&hello, b"hello");
    }

    #[tokio::test]
    async fn socks5_refusals_are_named() {
        let proxy = Proxy::parse("socks5://127.0.0.1:1").unwrap();
        let (mut client, mut server) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let _ = server.read(&mut buf).await;
            server.write_all(&[5, 0]).await.unwrap();
            let _ = server.read(&mut buf).await;
            server.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
        });
        match proxy.tunnel(&mut client, "127.0.0.1", 80).await {
            Err(TransportError::Proxy { status_line, .. }) => {
                assert_eq!(status_line, "SOCKS5 reply 2: connection not allowed by ruleset")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn environment_proxies() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            EnvironmentProxies::from_lookup(move |name| {
                vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
            })
        };
        let url = |p: Result<Option<Proxy>, String>| p.unwrap().map(|p| p.display_url());
        let e =
            env(&[("HTTP_PROXY", "http://upper:1"), ("http_proxy", "http://lower:2"), ("ALL_PROXY", "socks5://s:3")]);
        assert_eq!(url(e.proxy_for("example.com", 80, false)).as_deref(), Some("http://lower:2"));
        assert_eq!(url(e.proxy_for("example.com", 443, true)).as_deref(), Some("socks5://s:3"));
        let e = env(&[("HTTPS_PROXY", "proxy.corp:3128"), ("http_proxy", "")]);
        assert_eq!(url(e.proxy_for("example.com", 443, true)).as_deref(), Some("http://proxy.corp:3128"));
        assert_eq!(url(e.proxy_for("example.com", 80, false)), None);
        let e = env(&[
            ("all_proxy", "http://p:1"),
            ("no_proxy", "localhost, .internal,example.org:8080,10.0.0.1,[::1],Other.COM"),
        ]);
        for direct in [("localhost", 1), ("a.internal", 80), ("internal", 80), ("example.org", 8080), ("10.0.0.1", 80)]
        {
            assert_eq!(url(e.proxy_for(direct.0, direct.1, false)), None, "{direct:?}");
        }
        assert_eq!(url(e.proxy_for("[::1]", 80, false)), None);
        assert_eq!(url(e.proxy_for("x.other.com", 80, false)), None);
        for proxied in [("example.org", 80), ("notinternal", 80), ("10.0.0.2", 80), ("127.0.0.1", 80)] {
            assert!(url(e.proxy_for(proxied.0, proxied.1, false)).is_some(), "{proxied:?}");
        }
        assert_eq!(url(env(&[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "*")]).proxy_for("a", 1, true)), None);
        let err = env(&[("https_proxy", "ftp://x")]).proxy_for("a", 1, true).unwrap_err();
        assert!(err.starts_with("https_proxy: invalid proxy"), "{err}");
    }
}
