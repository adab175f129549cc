//! The WebSocket opening handshake (RFC 6455 §4), done here rather than by tungstenite's handshake
//! machine: that one keeps its 4 KiB response buffer as the connection's read buffer for life, which
//! is a third of an idle client's memory. The request is written at once; the response head is read
//! into a small buffer, checked (101, `Upgrade`, `Connection`, `Sec-WebSocket-Accept`), and whatever
//! followed it is handed to the WebSocket as already read.

use super::TransportError;
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use url::Url;

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Most bytes of an error response's body kept for the message.
const MAX_BODY: usize = 4 * 1024;

/// The upgrade request for `url` with the application's `headers` (validated; a `Host` among them
/// replaces the URL's), and its `Sec-WebSocket-Key`.
fn request(url: &Url, headers: &[(String, String)]) -> Result<(Vec<u8>, String), TransportError> {
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let host = url.host_str().ok_or_else(|| TransportError::WebSocket("the URL has no host".to_owned()))?;
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut text = format!("GET {target} HTTP/1.1\r\n");
    let user_host = headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host"));
    if !user_host {
        text.push_str(&format!("Host: {host}\r\n"));
    }
    text.push_str(&format!(
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
    ));
    for (name, value) in headers {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| TransportError::WebSocket(format!("header {name:?}: {e}")))?;
        HeaderValue::from_str(value).map_err(|e| TransportError::WebSocket(format!("header value: {e}")))?;
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    Ok((text.into_bytes(), key))
}

/// Performs the handshake on `stream` and returns the WebSocket.
pub async fn client<S>(
    mut stream: S,
    url: &Url,
    headers: &[(String, String)],
    config: WebSocketConfig,
) -> Result<WebSocketStream<S>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (request, key) = request(url, headers)?;
    stream.write_all(&request).await.map_err(|e| TransportError::Io(e.to_string()))?;
    stream.flush().await.map_err(|e| TransportError::Io(e.to_string()))?;
    drop(request);

    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    let (head_len, status, content_length, problem) = loop {
        let n = stream.read(&mut chunk).await.map_err(|e| TransportError::Io(e.to_string()))?;
        if n == 0 {
            return Err(TransportError::Io(
                "the server closed the connection during the WebSocket handshake".to_owned(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut fields = [httparse::EMPTY_HEADER; 48];
        let mut response = httparse::Response::new(&mut fields);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = response.code.unwrap_or(0);
                let header =
                    |name: &str| response.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value);
                let content_length = header("content-length")
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.trim().parse::<usize>().ok());
                let problem = (status == 101).then(|| check_upgrade(&header, &key)).flatten();
                break (head_len, status, content_length, problem);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => {
                return Err(TransportError::WebSocket(format!("the response head is larger than {MAX_HEAD} bytes")))
            }
            Err(e) => return Err(TransportError::WebSocket(format!("invalid HTTP response: {e}"))),
        }
    };
    if status != 101 {
        // The refusal's body, as far as it is announced (or already here), for the error message.
        let mut body = buf.split_off(head_len);
        let want = content_length.unwrap_or(body.len()).min(MAX_BODY);
        while body.len() < want {
            let n = stream.read(&mut chunk).await.map_err(|e| TransportError::Io(e.to_string()))?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(want);
        let body = String::from_utf8_lossy(&body).trim().chars().take(512).collect();
        return Err(TransportError::Http { status, body });
    }
    if let Some(problem) = problem {
        return Err(TransportError::WebSocket(problem));
    }
    let rest = buf.split_off(head_len);
    drop(buf);
    Ok(if rest.is_empty() {
        WebSocketStream::from_raw_socket(stream, Role::Client, Some(config)).await
    } else {
        WebSocketStream::from_partially_read(stream, rest, Role::Client, Some(config)).await
    })
}

/// What is wrong with a 101 response, if anything.
fn check_upgrade<'a>(header: &impl Fn(&str) -> Option<&'a [u8]>, key: &str) -> Option<String> {
    let has_token = |name: &str, token: &str| {
        header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .is_some_and(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") {
        return Some("the 101 response has no \"Upgrade: websocket\"".to_owned());
    }
    if !has_token("connection", "upgrade") {
        return Some("the 101 response has no \"Connection: Upgrade\"".to_owned());
    }
    let expected = derive_accept_key(key.as_bytes());
    match header("sec-websocket-accept") {
        Some(value) if value == expected.as_bytes() => None,
        _ => Some("the server's Sec-WebSocket-Accept does not match the key".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_host_key_and_headers() {
        let url = Url::parse("ws://example.com:8080/socket.io/?EIO=4&transport=websocket").unwrap();
        let (request, key) = request(&url, &[("X-Token".to_owned(), "t".to_owned())]).unwrap();
        let text = String::from_utf8(request).unwrap();
        assert!(text.starts_with("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: example.com:8080\r\n"));
        assert!(text.contains(&format!("Sec-WebSocket-Key: {key}\r\n")));
        assert!(text.contains("X-Token: t\r\n") && text.ends_with("\r\n\r\n"));
        let (request, _) = request_with_host();
        assert!(!String::from_utf8(request).unwrap().contains("Host: example.com"));
        assert!(super::request(&url, &[("Bad Name".to_owned(), "v".to_owned())]).is_err());
    }

    fn request_with_host() -> (Vec<u8>, String) {
        let url = Url::parse("ws://example.com/").unwrap();
        request(&url, &[("Host".to_owned(), "other".to_owned())]).unwrap()
    }
}
