//! The logging hook: the library's own records (target `realtime…`, written with the `log` facade)
//! go to one handler per process, set by `realtime_set_log_handler`. Off by default; when off, a
//! record costs one relaxed load (the facade's max level).
//!
//! Never a secret: every record's text passes through [`redact`] before the handler sees it (URL
//! user-info, query values and JSON members named like secrets, `Authorization`/`Cookie` headers,
//! bearer tokens), and the library never formats an auth payload or a header value into a record.
//!
//! Threading: a record goes to the handler on the thread that made it. Replacing or removing the
//! handler waits for the calls of the old one that are running (unless it is called from inside
//! one, on that thread), so the application may free the old handler's data when it returns. A
//! record made on a thread that is inside the handler (the handler called into the library) is
//! dropped, not delivered recursively.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// What the handler receives: level, target (`realtime::client::manager`, …), the redacted text.
pub(crate) type Sink = Box<dyn Fn(log::Level, &str, &str) + Send + Sync>;

struct Handler {
    sink: Sink,
    /// Calls of this handler running now.
    running: AtomicUsize,
}

static HANDLER: RwLock<Option<Arc<Handler>>> = RwLock::new(None);

thread_local! {
    /// This thread is inside the handler.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

struct Logger;

static LOGGER: Logger = Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level() && metadata.target().starts_with("realtime")
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) || INSIDE.with(Cell::get) {
            return;
        }
        // Counted while the read lock is held: a replacement (which takes the write lock) either
        // sees this call running or happened before it, so the old handler is never called after
        // the replacement returned.
        let handler = {
            let guard = HANDLER.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let Some(handler) = guard.as_ref() else { return };
            handler.running.fetch_add(1, Ordering::AcqRel);
            Arc::clone(handler)
        };
        let text = record.args().to_string();
        let text = redact(&text);
        INSIDE.with(|inside| inside.set(true));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (handler.sink)(record.level(), record.target(), &text)
        }));
        INSIDE.with(|inside| inside.set(false));
        handler.running.fetch_sub(1, Ordering::AcqRel);
        if result.is_err() {
            eprintln!("realtime: the log handler panicked");
        }
    }

    fn flush(&self) {}
}

/// Sets (or, with `None`, removes) the process's handler and the most verbose level it gets.
/// Returns once no call of the previous handler runs (but the caller's own, when it is one).
/// Fails only when another `log` logger owns the process (a Rust program that set its own).
pub(crate) fn set_handler(level: log::LevelFilter, sink: Option<Sink>) -> Result<(), String> {
    // Installed once; the outcome is kept, so a refusal is reported by every later call too.
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    if !*INSTALLED.get_or_init(|| log::set_logger(&LOGGER).is_ok()) {
        return Err("another logger of the `log` crate is installed in this process".to_owned());
    }
    let enabled = sink.is_some();
    let new = sink.map(|sink| Arc::new(Handler { sink, running: AtomicUsize::new(0) }));
    let old = {
        let mut guard = HANDLER.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::replace(&mut *guard, new)
    };
    log::set_max_level(if enabled { level } else { log::LevelFilter::Off });
    if let Some(old) = old {
        let own = usize::from(INSIDE.with(Cell::get));
        let mut spins = 0u32;
        while old.running.load(Ordering::Acquire) > own {
            spins += 1;
            if spins < 100 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        }
    }
    Ok(())
}

/// Whether a name (a query parameter, a JSON member, a header) is one whose value is a secret.
fn secret_name(name: &str) -> bool {
    const PARTS: &[&str] = &[
        "token",
        "key",
        "secret",
        "password",
        "passwd",
        "pwd",
        "auth",
        "session",
        "sig",
        "credential",
        "jwt",
        "cookie",
        "bearer",
        "private",
    ];
    let lower = name.to_ascii_lowercase();
    PARTS.iter().any(|part| lower.contains(part))
}

const REDACTED: &str = "[redacted]";

/// The text with every secret-looking value replaced by `[redacted]`: URL user-info
/// (`//user:pass@`), values of query parameters and of JSON string members named like secrets
/// (`token`, `apiKey`, `session`, `password`, `auth`, …), `Authorization:`, `Proxy-Authorization:`
/// and `Cookie:` header values, and `Bearer`/`Basic` credentials.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0; // bytes of `text` already in `out`
    let bytes = text.as_bytes();
    let mut i = 0;
    let push = |out: &mut String, copied: &mut usize, from: usize, to: usize| {
        out.push_str(&text[*copied..from]);
        out.push_str(REDACTED);
        *copied = to;
    };
    while i < bytes.len() {
        // URL user-info: "://" then [^/?#@\s"']* '@'
        if text[i..].starts_with("://") {
            let start = i + 3;
            let end = scan(bytes, start, |b| matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'') || b.is_ascii_whitespace());
            if let Some(at) = text[start..end].rfind('@') {
                push(&mut out, &mut copied, start, start + at);
                i = start + at + 1;
                continue;
            }
            i = start;
            continue;
        }
        // A query parameter: [?&;] name '=' value
        if matches!(bytes[i], b'?' | b'&' | b';') {
            let name_start = i + 1;
            let name_end =
                scan(bytes, name_start, |b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'%')));
            if name_end > name_start && bytes.get(name_end) == Some(&b'=') && secret_name(&text[name_start..name_end]) {
                let value_start = name_end + 1;
                let value_end = scan(bytes, value_start, |b| {
                    matches!(b, b'&' | b'#' | b'"' | b'\'' | b')' | b'>' | b',') || b.is_ascii_whitespace()
                });
                if value_end > value_start {
                    push(&mut out, &mut copied, value_start, value_end);
                }
                i = value_end;
                continue;
            }
        }
        // A JSON member: "name" : "value" (or a scalar value)
        if bytes[i] == b'"' {
            let name_start = i + 1;
            let name_end = scan(bytes, name_start, |b| b == b'"' || b == b'\\');
            if bytes.get(name_end) == Some(&b'"') {
                let mut j = name_end + 1;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if bytes.get(j) == Some(&b':') && secret_name(&text[name_start..name_end]) {
                    j += 1;
                    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b'"') {
                        let value_start = j + 1;
                        let mut k = value_start;
                        while k < bytes.len() && bytes[k] != b'"' {
                            k += if bytes[k] == b'\\' { 2 } else { 1 };
                        }
                        let value_end = k.min(bytes.len());
                        push(&mut out, &mut copied, value_start, value_end);
                        i = value_end;
                        continue;
                    }
                    if bytes.get(j).is_some_and(|b| !matches!(b, b'{' | b'[')) {
                        let value_end = scan(bytes, j, |b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace());
                        push(&mut out, &mut copied, j, value_end);
                        i = value_end;
                        continue;
                    }
                }
                i = name_end + 1;
                continue;
            }
        }
        // Headers and schemes: the rest of the value, up to a quote, a comma or the line's end.
        if let Some(len) = header_prefix(&text[i..]) {
            let value_start = i + len;
            let value_end = scan(bytes, value_start, |b| matches!(b, b'"' | b'\'' | b'\r' | b'\n' | b','));
            if value_end > value_start {
                push(&mut out, &mut copied, value_start, value_end);
            }
            i = value_end;
            continue;
        }
        i += 1;
        // Keep `i` on a character boundary (every pattern above starts with ASCII).
        while i < bytes.len() && !text.is_char_boundary(i) {
            i += 1;
        }
    }
    if copied == 0 && out.is_empty() {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// The first index at or after `from` whose byte satisfies `stop`, or the end.
fn scan(bytes: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    bytes[from.min(bytes.len())..].iter().position(|&b| stop(b)).map_or(bytes.len(), |n| from + n)
}

/// `Authorization: `, `Proxy-Authorization: `, `Cookie: `, `Set-Cookie: `, `Bearer `, `Basic `
/// (any case) at the start of `text`, if there: its length.
fn header_prefix(text: &str) -> Option<usize> {
    const PREFIXES: &[&str] =
        &["proxy-authorization:", "authorization:", "set-cookie:", "cookie:", "bearer ", "basic "];
    let bytes = text.as_bytes();
    let prefix =
        PREFIXES.iter().find(|p| bytes.len() >= p.len() && bytes[..p.len()].eq_ignore_ascii_case(p.as_bytes()))?;
    let spaces = bytes[prefix.len()..].iter().take_while(|&&b| b == b' ').count();
    Some(prefix.len() + spaces)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_secrets_and_keeps_the_rest() {
        let cases = [
            ("connecting to ws://127.0.0.1:80/socket.io/?EIO=4&transport=websocket", None),
            ("ws://h/socket.io/?token=abc123&EIO=4", Some("ws://h/socket.io/?token=[redacted]&EIO=4")),
            ("ws://h/?EIO=4&apiKey=K-9&x=1", Some("ws://h/?EIO=4&apiKey=[redacted]&x=1")),
            (
                "proxy http://user:pa%40ss@127.0.0.1:3128 refused",
                Some("proxy http://[redacted]@127.0.0.1:3128 refused"),
            ),
            (r#"auth {"token":"s3cr\"et","name":"bob"}"#, Some(r#"auth {"token":"[redacted]","name":"bob"}"#)),
            (r#"{"session_token": 1234, "n": 1}"#, Some(r#"{"session_token": [redacted], "n": 1}"#)),
            ("Authorization: Bearer xyz, next", Some("Authorization: [redacted], next")),
            ("got bearer eyJhbGc.x.y end", Some("got bearer [redacted]")),
            ("héllo ünïcode ?sig=ü€ done", Some("héllo ünïcode ?sig=[redacted] done")),
            ("", None),
        ];
        for (input, want) in cases {
            let got = redact(input);
            assert_eq!(got, want.unwrap_or(input), "{input:?}");
            assert_eq!(matches!(got, std::borrow::Cow::Borrowed(_)), want.is_none(), "{input:?}");
        }
    }
}
