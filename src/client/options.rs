//! Client options: the `options_json` object of `realtime_new`, camelCase like socket.io-client.
//! Unknown keys and wrong types are errors that name the key.

use crate::error::{Error, Result};
use crate::transport::{TransportKind, TransportPlan, TrustStore};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Every option, with socket.io-client's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub auth: Option<Map<String, Value>>,
    pub extra_headers: Vec<(String, String)>,
    pub auto_connect: bool,
    pub reconnection: bool,
    /// `None`: unlimited.
    pub reconnection_attempts: Option<u32>,
    pub reconnection_delay: Duration,
    pub reconnection_delay_max: Duration,
    pub randomization_factor: f64,
    /// Per attempt, until the Engine.IO handshake arrives.
    pub timeout: Duration,
    pub ack_timeout: Option<Duration>,
    pub ca_file: Option<PathBuf>,
    /// `"system"` (default): the platform's trust store; `"bundled"`: the bundled Mozilla roots only.
    pub trust_store: TrustStore,
    /// `http://[user:password@]host:port` (HTTP CONNECT) or `socks5://` / `socks5h://` (SOCKS5).
    pub proxy: Option<String>,
    /// Without `proxy`: take the proxy from `https_proxy` / `http_proxy` / `all_proxy` / `no_proxy`.
    pub proxy_from_environment: bool,
    /// `failoverUrls`: more servers of the same cluster, tried in turn after a failed attempt.
    pub failover_urls: Vec<String>,
    /// `transports` (default `["websocket","polling"]`), `upgrade` (true), `rememberUpgrade` (false),
    /// `tryAllTransports` (true).
    pub transports: TransportPlan,
    /// How long the auth provider may take to answer, per request.
    pub auth_timeout: Duration,
    /// `sha256/<base64>` SubjectPublicKeyInfo pins; empty: no pinning.
    pub pinned_public_keys: Vec<String>,
    /// A client certificate (PEM chain) and its key, for servers that ask for one.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    /// `retries: N`: every emit waits for an ack and is sent again up to N times (needs `ackTimeout`).
    pub retries: Option<u32>,
    /// The most emits kept while not connected; one more fails with a buffer-full error.
    pub max_buffered_emits: usize,
    /// Agnost channels: whether the server echoes this client's own messages (sent in `auth`).
    pub echo_messages: Option<bool>,
    /// Agnost channels: false makes channel messages volatile (dropped while not connected).
    pub buffer_messages: bool,
    /// Agnost channels: re-join every joined channel and re-send the last profile after a reconnect.
    pub auto_join_channels: bool,
    /// Agnost: the API server's base URL (members over HTTP), its API key and the session token.
    pub api_base_url: Option<String>,
    pub api_key: Option<String>,
    pub session: Option<String>,
    /// Receive bound (per connection): events, and their bytes, waiting for callbacks; reading the
    /// socket stops while either is reached.
    pub max_pending_events: usize,
    pub max_pending_bytes: usize,
    /// Send bound (per connection): bytes of emits waiting for the socket while connected; beyond
    /// it an emit fails with `WouldBlock`.
    pub max_queued_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            path: "/socket.io/".to_owned(),
            query: Vec::new(),
            auth: None,
            extra_headers: Vec::new(),
            auto_connect: true,
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            timeout: Duration::from_millis(20_000),
            ack_timeout: None,
            ca_file: None,
            trust_store: TrustStore::System,
            proxy: None,
            proxy_from_environment: false,
            failover_urls: Vec::new(),
            transports: TransportPlan::default(),
            auth_timeout: Duration::from_millis(DEFAULT_AUTH_TIMEOUT_MS),
            pinned_public_keys: Vec::new(),
            client_cert_file: None,
            client_key_file: None,
            retries: None,
            max_buffered_emits: DEFAULT_MAX_BUFFERED_EMITS,
            echo_messages: None,
            buffer_messages: true,
            auto_join_channels: true,
            api_base_url: None,
            api_key: None,
            session: None,
            max_pending_events: super::flow::DEFAULT_MAX_PENDING_EVENTS,
            max_pending_bytes: super::flow::DEFAULT_MAX_PENDING_BYTES,
            max_queued_bytes: super::flow::DEFAULT_MAX_QUEUED_BYTES,
        }
    }
}

/// Options that belong to one socket (namespace); the rest configure the shared connection.
pub const SOCKET_OPTION_NAMES: &[&str] = &[
    "auth",
    "autoConnect",
    "authTimeout",
    "ackTimeout",
    "retries",
    "maxBufferedEmits",
    "echoMessages",
    "bufferMessages",
    "autoJoinChannels",
    "apiBaseUrl",
    "apiKey",
    "session",
];

/// Default time limit of the auth provider's answer.
pub const DEFAULT_AUTH_TIMEOUT_MS: u64 = 10_000;

/// Default bound of the offline send buffer.
pub const DEFAULT_MAX_BUFFERED_EMITS: usize = 1000;

impl ClientOptions {
    /// Parses the options of a namespace opened on an existing connection: socket options only.
    pub fn socket_options_from_json(json: Option<&str>) -> Result<Self> {
        let options = Self::from_json(json)?;
        if let Some(json) = json.filter(|s| !s.trim().is_empty()) {
            if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) {
                if let Some(key) = map.keys().find(|k| !SOCKET_OPTION_NAMES.contains(&k.as_str())) {
                    return Err(Error::InvalidOptions(format!(
                        "\"{key}\" configures the shared connection; set it on the client that opened it"
                    )));
                }
            }
        }
        Ok(options)
    }

    /// Parses `options_json` (`None` or empty: all defaults).
    pub fn from_json(json: Option<&str>) -> Result<Self> {
        let mut options = Self::default();
        let Some(json) = json.filter(|s| !s.trim().is_empty()) else {
            return Ok(options);
        };
        let value: Value =
            serde_json::from_str(json).map_err(|e| Error::InvalidOptions(format!("not valid JSON ({e})")))?;
        let Value::Object(map) = value else {
            return Err(Error::InvalidOptions("must be a JSON object".to_owned()));
        };
        for (key, value) in &map {
            let field = Field { key, value };
            match key.as_str() {
                "path" => options.path = normalize_path(field.string()?),
                "query" => options.query = field.string_map()?,
                "auth" => options.auth = field.object_or_null()?,
                "extraHeaders" => options.extra_headers = field.header_map()?,
                "autoConnect" => options.auto_connect = field.boolean()?,
                "reconnection" => options.reconnection = field.boolean()?,
                "reconnectionAttempts" => options.reconnection_attempts = field.attempts()?,
                "reconnectionDelay" => options.reconnection_delay = field.millis()?,
                "reconnectionDelayMax" => options.reconnection_delay_max = field.millis()?,
                "randomizationFactor" => options.randomization_factor = field.fraction()?,
                "timeout" => options.timeout = field.millis()?,
                "ackTimeout" => options.ack_timeout = field.optional_millis()?,
                "caFile" => options.ca_file = field.optional_string()?.map(PathBuf::from),
                "pinnedPublicKeys" => options.pinned_public_keys = field.strings()?,
                "clientCertFile" => options.client_cert_file = field.optional_string()?.map(PathBuf::from),
                "clientKeyFile" => options.client_key_file = field.optional_string()?.map(PathBuf::from),
                "retries" => options.retries = field.attempts()?,
                "maxBufferedEmits" => options.max_buffered_emits = field.count()?,
                "echoMessages" => options.echo_messages = Some(field.boolean()?),
                "bufferMessages" => options.buffer_messages = field.boolean()?,
                "autoJoinChannels" => options.auto_join_channels = field.boolean()?,
                "trustStore" => options.trust_store = field.trust_store()?,
                "proxy" => options.proxy = field.optional_string()?.map(str::to_owned),
                "proxyFromEnvironment" => options.proxy_from_environment = field.boolean()?,
                "failoverUrls" => options.failover_urls = field.strings()?,
                "transports" => options.transports.transports = field.transports()?,
                "upgrade" => options.transports.upgrade = field.boolean()?,
                "rememberUpgrade" => options.transports.remember_upgrade = field.boolean()?,
                "tryAllTransports" => options.transports.try_all = field.boolean()?,
                "authTimeout" => options.auth_timeout = field.millis()?,
                "apiBaseUrl" => options.api_base_url = field.optional_string()?.map(str::to_owned),
                "apiKey" => options.api_key = field.optional_string()?.map(str::to_owned),
                "session" => options.session = field.optional_string()?.map(str::to_owned),
                "maxPendingEvents" => options.max_pending_events = field.positive()?,
                "maxPendingBytes" => options.max_pending_bytes = field.positive()?,
                "maxQueuedBytes" => options.max_queued_bytes = field.positive()?,
                _ => return Err(Error::UnknownOption(key.clone())),
            }
        }
        Ok(options)
    }
}

/// socket.io-client always ends the path with a slash, and we make sure it starts with one.
fn normalize_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let trimmed = trimmed.trim_start_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        format!("/{trimmed}/")
    }
}

struct Field<'a> {
    key: &'a str,
    value: &'a Value,
}

impl Field<'_> {
    fn wrong(&self, expected: &str) -> Error {
        Error::InvalidOptions(format!("\"{}\" must be {expected}, got {}", self.key, self.value))
    }

    fn string(&self) -> Result<&str> {
        self.value.as_str().ok_or_else(|| self.wrong("a string"))
    }

    fn trust_store(&self) -> Result<TrustStore> {
        self.string().ok().and_then(TrustStore::from_name).ok_or_else(|| self.wrong("\"system\" or \"bundled\""))
    }

    fn optional_string(&self) -> Result<Option<&str>> {
        if self.value.is_null() {
            return Ok(None);
        }
        self.string().map(Some)
    }

    fn transports(&self) -> Result<Vec<TransportKind>> {
        let wrong = || self.wrong("a non-empty array of \"websocket\" and \"polling\"");
        let names = self.strings().map_err(|_| wrong())?;
        let mut kinds = Vec::new();
        for name in &names {
            let kind = TransportKind::from_name(name).ok_or_else(wrong)?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.is_empty() {
            return Err(wrong());
        }
        Ok(kinds)
    }

    fn boolean(&self) -> Result<bool> {
        self.value.as_bool().ok_or_else(|| self.wrong("true or false"))
    }

    fn millis(&self) -> Result<Duration> {
        self.value.as_u64().map(Duration::from_millis).ok_or_else(|| self.wrong("a whole number of milliseconds ≥ 0"))
    }

    fn strings(&self) -> Result<Vec<String>> {
        let items = self.value.as_array().ok_or_else(|| self.wrong("an array of strings"))?;
        items.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(|| self.wrong("an array of strings"))).collect()
    }

    fn count(&self) -> Result<usize> {
        self.value
            .as_u64()
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .ok_or_else(|| self.wrong("a whole number ≥ 0"))
    }

    fn positive(&self) -> Result<usize> {
        match self.count() {
            Ok(0) | Err(_) => Err(self.wrong("a whole number ≥ 1")),
            Ok(n) => Ok(n),
        }
    }

    fn optional_millis(&self) -> Result<Option<Duration>> {
        if self.value.is_null() {
            return Ok(None);
        }
        self.millis().map(Some)
    }

    fn attempts(&self) -> Result<Option<u32>> {
        if self.value.is_null() {
            return Ok(None);
        }
        if let Some(f) = self.value.as_f64() {
            if f.is_infinite() && f > 0.0 {
                return Ok(None);
            }
        }
        let n = self.value.as_u64().ok_or_else(|| self.wrong("a whole number ≥ 0, or null for unlimited"))?;
        Ok(Some(u32::try_from(n).unwrap_or(u32::MAX)))
    }

    fn fraction(&self) -> Result<f64> {
        match self.value.as_f64() {
            Some(f) if (0.0..=1.0).contains(&f) => Ok(f),
            _ => Err(self.wrong("a number from 0 to 1")),
        }
    }

    fn object_or_null(&self) -> Result<Option<Map<String, Value>>> {
        match self.value {
            Value::Null => Ok(None),
            Value::Object(map) => Ok(Some(map.clone())),
            _ => Err(self.wrong("a JSON object")),
        }
    }

    fn string_map(&self) -> Result<Vec<(String, String)>> {
        let Value::Object(map) = self.value else {
            return Err(self.wrong("an object of strings"));
        };
        map.iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                _ => Err(Error::InvalidOptions(format!("\"{}\".\"{k}\" must be a string, got {v}", self.key))),
            })
            .collect()
    }

    fn header_map(&self) -> Result<Vec<(String, String)>> {
        let headers = self.string_map()?;
        for (name, value) in &headers {
            let bad_name = name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            let bad_value = value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
            if bad_name || bad_value {
                return Err(Error::InvalidOptions(format!("\"extraHeaders\" has an invalid header {name:?}")));
            }
        }
        Ok(headers)
    }
}

/// Where to connect: the URL split into the Engine.IO endpoint and the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `ws://` or `wss://`, host, port, no path or query yet.
    pub origin: Url,
    pub secure: bool,
    /// The URL's own query pairs (the `query` option adds to them).
    pub query: Vec<(String, String)>,
    /// The URL path: `/` or `/admin`.
    pub namespace: String,
}

impl Endpoint {
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidUrl { url: input.to_owned(), reason: reason.to_owned() };
        let url = Url::parse(input).map_err(|e| bad(&e.to_string()))?;
        let (scheme, secure) = match url.scheme() {
            "http" | "ws" => ("ws", false),
            "https" | "wss" => ("wss", true),
            other => return Err(bad(&format!("scheme {other:?} is not http, https, ws or wss"))),
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
        let mut origin = Url::parse(&format!("{scheme}://placeholder/")).map_err(|e| bad(&e.to_string()))?;
        origin.set_host(Some(host)).map_err(|e| bad(&e.to_string()))?;
        origin.set_port(url.port()).map_err(|_| bad("invalid port"))?;
        let query = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let path = url.path().trim_end_matches('/');
        let namespace = if path.is_empty() { "/".to_owned() } else { path.to_owned() };
        Ok(Self { origin, secure, query, namespace })
    }

    /// The origin's host (IPv6 without brackets), port and whether it uses TLS.
    pub fn host_port(&self) -> (String, u16) {
        let host = self.origin.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
        (host, self.origin.port_or_known_default().unwrap_or(if self.secure { 443 } else { 80 }))
    }

    /// The WebSocket URL of the Engine.IO endpoint: user query first, then `EIO=4&transport=websocket`.
    pub fn websocket_url(&self, options: &ClientOptions) -> Url {
        let mut url = self.origin.clone();
        url.set_path(&options.path);
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in self.query.iter().filter(|(k, _)| !options.query.iter().any(|(ok, _)| ok == k)) {
                pairs.append_pair(k, v);
            }
            for (k, v) in &options.query {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("EIO", "4");
            pairs.append_pair("transport", "websocket");
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        assert_eq!(ClientOptions::from_json(None).unwrap(), ClientOptions::default());
        assert_eq!(ClientOptions::from_json(Some("  ")).unwrap(), ClientOptions::default());
        assert_eq!(ClientOptions::from_json(Some("{}")).unwrap(), ClientOptions::default());
    }

    #[test]
    fn parses_every_option() {
        let o = ClientOptions::from_json(Some(
            r#"{"path":"/rt","query":{"a":"1","n":2},"auth":{"token":"t"},"extraHeaders":{"X-Key":"v"},
                "autoConnect":false,"reconnection":false,"reconnectionAttempts":3,"reconnectionDelay":10,
                "reconnectionDelayMax":20,"randomizationFactor":0,"timeout":500,"ackTimeout":100,"caFile":"/ca.pem"}"#,
        ))
        .unwrap();
        assert_eq!(o.path, "/rt/");
        assert_eq!(o.query, vec![("a".into(), "1".into()), ("n".into(), "2".into())]);
        assert_eq!(o.auth.unwrap()["token"], "t");
        assert_eq!(o.extra_headers, vec![("X-Key".into(), "v".into())]);
        assert!(!o.auto_connect && !o.reconnection);
        assert_eq!(o.reconnection_attempts, Some(3));
        assert_eq!((o.reconnection_delay.as_millis(), o.reconnection_delay_max.as_millis()), (10, 20));
        assert_eq!(o.randomization_factor, 0.0);
        assert_eq!((o.timeout.as_millis(), o.ack_timeout.unwrap().as_millis()), (500, 100));
        assert_eq!(o.ca_file.unwrap(), PathBuf::from("/ca.pem"));
        let o =
            ClientOptions::from_json(Some(r#"{"reconnectionAttempts":null,"auth":null,"ackTimeout":null}"#)).unwrap();
        assert_eq!((o.reconnection_attempts, o.auth, o.ack_timeout), (None, None, None));
    }

    #[test]
    fn errors_name_the_key() {
        let err = |json: &str| ClientOptions::from_json(Some(json)).unwrap_err().to_string();
        assert_eq!(err(r#"{"bogus":1}"#), "unknown option \"bogus\"");
        assert!(err("{").contains("not valid JSON"));
        assert!(err("[1]").contains("must be a JSON object"));
        assert!(err(r#"{"reconnectionDelay":"x"}"#).contains("\"reconnectionDelay\""));
        assert!(err(r#"{"reconnectionDelay":-1}"#).contains("\"reconnectionDelay\""));
        assert!(err(r#"{"randomizationFactor":1.5}"#).contains("\"randomizationFactor\""));
        assert!(err(r#"{"auth":"token"}"#).contains("\"auth\""));
        assert!(err(r#"{"query":{"a":[1]}}"#).contains("\"query\".\"a\""));
        assert!(err(r#"{"extraHeaders":{"Bad Name":"v"}}"#).contains("extraHeaders"));
        assert!(err(r#"{"extraHeaders":{"X":"a\r\nb"}}"#).contains("extraHeaders"));
        assert!(err(r#"{"autoConnect":1}"#).contains("\"autoConnect\""));
        for key in ["maxPendingEvents", "maxPendingBytes", "maxQueuedBytes"] {
            assert!(err(&format!(r#"{{"{key}":0}}"#)).contains("must be a whole number ≥ 1"), "{key}");
            assert!(err(&format!(r#"{{"{key}":"x"}}"#)).contains(key), "{key}");
        }
        let o = ClientOptions::from_json(Some(r#"{"maxPendingEvents":8,"maxPendingBytes":9,"maxQueuedBytes":10}"#))
            .unwrap();
        assert_eq!((o.max_pending_events, o.max_pending_bytes, o.max_queued_bytes), (8, 9, 10));
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://localhost:3000/admin?token=abc").unwrap();
        assert_eq!((e.origin.as_str(), e.secure, e.namespace.as_str()), ("ws://localhost:3000/", false, "/admin"));
        let o = ClientOptions { query: vec![("x".into(), "1".into())], ..ClientOptions::default() };
        assert_eq!(
            e.websocket_url(&o).as_str(),
            "ws://localhost:3000/socket.io/?token=abc&x=1&EIO=4&transport=websocket"
        );
        let e = Endpoint::parse("https://example.com").unwrap();
        assert_eq!((e.origin.as_str(), e.secure, e.namespace.as_str()), ("wss://example.com/", true, "/"));
        assert_eq!(Endpoint::parse("wss://h:1/").unwrap().namespace, "/");
        assert_eq!(Endpoint::parse("ws://[::1]:5/x/").unwrap().origin.as_str(), "ws://[::1]:5/");
        for bad in ["not a url", "ftp://x", "http://", "", "http://:80/", "mailto:a@b"] {
            assert!(matches!(Endpoint::parse(bad), Err(Error::InvalidUrl { .. })), "{bad}");
        }
    }

    #[test]
    fn trust_store() {
        let parse = |json: &str| ClientOptions::from_json(Some(json)).map(|o| o.trust_store);
        assert_eq!(ClientOptions::default().trust_store, TrustStore::System);
        assert_eq!(parse(r#"{"trustStore":"system"}"#).unwrap(), TrustStore::System);
        assert_eq!(parse(r#"{"trustStore":"bundled"}"#).unwrap(), TrustStore::Bundled);
        for bad in [r#"{"trustStore":"none"}"#, r#"{"trustStore":null}"#, r#"{"trustStore":1}"#] {
            assert!(parse(bad).unwrap_err().to_string().contains("\"trustStore\" must be \"system\" or \"bundled\""));
        }
    }

    #[test]
    fn transport_options() {
        let o = ClientOptions::default();
        assert_eq!(o.transports.transports, vec![TransportKind::WebSocket, TransportKind::Polling]);
        assert!(o.transports.upgrade && !o.transports.remember_upgrade && o.transports.try_all);
        let o = ClientOptions::from_json(Some(
            r#"{"transports":["polling"],"upgrade":false,"rememberUpgrade":true,"tryAllTransports":false,
                "proxyFromEnvironment":true,"authTimeout":50}"#,
        ))
        .unwrap();
        assert_eq!(o.transports.transports, vec![TransportKind::Polling]);
        assert!(!o.transports.upgrade && o.transports.remember_upgrade && !o.transports.try_all);
        assert!(o.proxy_from_environment);
        assert_eq!(o.auth_timeout.as_millis(), 50);
        let o = ClientOptions::from_json(Some(r#"{"transports":["polling","websocket"]}"#)).unwrap();
        assert_eq!(o.transports.transports, vec![TransportKind::Polling, TransportKind::WebSocket]);
        for bad in [r#"{"transports":[]}"#, r#"{"transports":["webtransport"]}"#, r#"{"transports":"polling"}"#] {
            let err = ClientOptions::from_json(Some(bad)).unwrap_err().to_string();
            assert!(err.contains("\"transports\" must be"), "{err}");
        }
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path("/socket.io"), "/socket.io/");
        assert_eq!(normalize_path("rt/"), "/rt/");
        assert_eq!(normalize_path(""), "/");
    }
}
