import CRealtime
import Foundation

/// The id of a registered listener, for `off(_:)`.
public struct ListenerID: Hashable, Sendable {
    public let rawValue: UInt64
}

/// A server event.
public struct RealtimeEvent: @unchecked Sendable {
    /// The event name.
    public let name: String
    /// The arguments, decoded; binary arguments are `.binary(Data)` where they were.
    public let args: [JSONValue]
    /// The binary attachments, in order (the same bytes as the `.binary` values in `args`).
    public let buffers: [Data]
    /// The arguments as the library delivered them (a JSON array text with binary placeholders).
    public let argsJSON: String
    let responder: AckResponder?

    /// Whether the server asked for an ack (answer it with `ack(...)`, exactly once).
    public var expectsAck: Bool { responder != nil }

    /// Answers the server's ack request with `args` (`.binary` values are sent as binary attachments).
    /// Throws `.noAckRequested` when the server asked for none, `.alreadyAcknowledged` on a second call,
    /// a `.status(.unknownAck, …)` error when the connection that asked is gone, `.closed` after close().
    public func ack(_ args: JSONValue...) throws { try ack(args: args) }

    /// `ack(_:)` with an array.
    public func ack(args: [JSONValue]) throws {
        guard let responder else { throw RealtimeError.noAckRequested }
        try responder.answer(args)
    }
}

/// A channel event (member joined, left, updated its profile) or a channel message / broadcast.
public struct ChannelEvent: Hashable, Sendable {
    /// The channel; nil for a broadcast message.
    public let channel: String?
    /// The socket id of the member who joined, left, updated or sent; nil if the server did not say.
    public let memberId: String?
    /// The profile or the message.
    public let data: JSONValue
    /// `data` as the JSON text the library delivered.
    public let dataJSON: String
}

/// A member of a channel, from `members(channel:)`.
public struct Member: Hashable, Sendable {
    public let id: String
    public let data: JSONValue
}

/// The connection's lifecycle, as `RealtimeClient.lifecycle` delivers it.
public enum LifecycleEvent: Hashable, Sendable {
    /// The namespace was joined (first connect and every reconnect).
    case connect
    /// socket.io-client's reasons: "io server disconnect", "io client disconnect", "ping timeout",
    /// "transport close", "transport error", "parse error".
    case disconnect(reason: String)
    /// A connection attempt failed, or the server refused the namespace (message and `data`).
    case error(message: String, data: JSONValue)
    /// Just before reconnection attempt `n` (from 1).
    case reconnectAttempt(Int)
    /// The transport is open again after `attempts` attempts (before `.connect`).
    case reconnect(attempts: Int)
    /// `reconnectionAttempts` attempts failed; nothing more is tried until `open()`.
    case reconnectFailed
}

/// A Socket.IO client: one socket (the URL's namespace) and the connection it runs on, over librealtime.
///
/// - Every method may be called from any thread.
/// - Handlers are `@Sendable` and run on the `queue` given to `init` (a private serial queue by
///   default), one at a time, in event order; for `@MainActor` handlers, use `queue: .main` and
///   `mainActor(_:)`. A handler removed with `off(_:)`, or any handler after `close()`, does not run any more
///   once that call returned (when called on `queue` itself, not even for events already queued).
/// - Handlers are retained until `off(_:)` or `close()`: capture the client weakly in them
///   (`[weak client]`) or call `close()`, or the client and its handlers keep each other alive.
/// - `close()` ends the client's lifetime; after it every throwing method throws `RealtimeError.closed`.
///   `deinit` closes it if you did not.
public final class RealtimeClient: @unchecked Sendable {
    let core: Core

    /// The queue handlers run on.
    public var queue: DispatchQueue { core.queue }

    /// The library version, e.g. "0.1.0".
    public static var libraryVersion: String { String(cString: realtime_version()) }

    /// Creates a client for `url` (`http(s)://` or `ws(s)://`, the path is the namespace) and, unless
    /// `options["autoConnect"]` is false, starts connecting.
    ///
    /// `options` are socket.io-client's (camelCase), e.g.
    /// `["auth": ["token": "abc"], "reconnectionDelay": 500, "autoConnect": false]`; an unknown key
    /// or a wrong type throws `RealtimeError.status(.unknownOption / .invalidOptions, message:)` with the
    /// library's message naming the key. Transports and proxies are options too:
    /// `"transports": ["polling"]` (HTTP long-polling only; default `["websocket", "polling"]`, see
    /// `transportName`) and `"proxy": "http://[user:password@]host:port"` (HTTP CONNECT; also
    /// `socks5://` / `socks5h://`); a proxy that fails or refuses arrives as onError (its message names
    /// the proxy).
    public init(url: String, options: [String: JSONValue] = [:], queue: DispatchQueue? = nil) throws {
        let json = try options.isEmpty ? nil : Self.plainJSON(.object(options))
        core = try Core(queue: queue ?? DispatchQueue(label: "realtime.client", qos: .userInitiated),
                        autoConnect: options["autoConnect"]?.boolValue ?? true) {
            withOptionalCString(json) { realtime_new(url, $0) }
        }
    }

    private init(core: Core) { self.core = core }

    /// Opens namespace `nsp` (e.g. "/admin") on this client's connection (socket.io-client's
    /// `manager.socket(nsp)`): one WebSocket, heartbeat and reconnection schedule, but its own socket id,
    /// handlers and lifecycle. `options` may hold socket options only (auth, autoConnect, ackTimeout,
    /// retries, maxBufferedEmits, echoMessages, bufferMessages, autoJoinChannels). The new client is
    /// independent: close each one; the connection lives while any of them does. Its handlers run on
    /// `queue` (default: this client's queue). Throws `.status(.namespaceInUse, …)` when `nsp` is open on
    /// this connection already.
    public func namespace(_ nsp: String, options: [String: JSONValue] = [:], queue: DispatchQueue? = nil) throws -> RealtimeClient {
        let json = try options.isEmpty ? nil : Self.plainJSON(.object(options))
        let parent = try core.current()
        let child = try Core(queue: queue ?? core.queue, autoConnect: options["autoConnect"]?.boolValue ?? true) {
            withOptionalCString(json) { realtime_new_namespace(parent, nsp, $0) }
        }
        return RealtimeClient(core: child)
    }

    deinit {
        core.close()
    }

    // MARK: Connection

    /// Connects (idempotent); re-enables reconnection after `disconnect()`. The result arrives as
    /// onConnect or onError.
    public func open() throws {
        try core.call { realtime_open($0) }
        core.connection.set(.connecting, ifCurrent: { if case .disconnected = $0 { return true } else { return false } })
    }

    /// Disconnects (idempotent); no reconnection until `open()`. The client can be opened again.
    public func disconnect() throws {
        try core.call { realtime_close($0) }
        core.connection.set(.disconnected(reason: "io client disconnect"))
    }

    /// The connection state now (`.closed` after `close()`).
    ///
    /// The state is tracked from its first use (this property or `connectionStates`): use it after
    /// registering the handlers that must see the first connection (see the README).
    public var connectionState: ConnectionState {
        core.ensureStateTracking()
        return core.connection.value
    }

    /// The connection state as an async sequence: each access returns a new stream that yields the
    /// current state at once (a late subscriber sees where the client is), then every change, in order;
    /// it ends after `.closed`. Values are yielded on the library's thread, not on `queue`.
    public var connectionStates: AsyncStream<ConnectionState> {
        core.ensureStateTracking()
        return core.connection.stream()
    }

    /// Tells the client that the network changed (e.g. Wi-Fi to cellular) or that the app returned to
    /// the foreground: the connection is dropped (onDisconnect gets "transport close") and made again at
    /// once, skipping the backoff delay. Does nothing after `disconnect()`.
    public func reconnectNow() throws { try core.call { realtime_reconnect_now($0) } }

    /// Ends the client: disconnects and releases the native client and every handler. When it returns,
    /// no handler of this client runs any more (if called on `queue`; otherwise at most the one running).
    /// Idempotent; after it every throwing method throws `RealtimeError.closed`.
    public func close() { core.close() }

    /// Whether `close()` was called.
    public var isClosed: Bool { core.isClosed }

    /// Whether the client is connected to its namespace now (false after close()).
    public var isConnected: Bool {
        guard let h = try? core.current() else { return false }
        return realtime_is_connected(h)
    }

    /// The socket id the server gave this connection; nil when not connected (or closed).
    public var socketId: String? {
        guard let h = try? core.current() else { return nil }
        var buf = [CChar](repeating: 0, count: 64)
        while true {
            let n = realtime_socket_id(h, &buf, buf.count)
            if n == 0 { return nil }
            if n < buf.count { return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            buf = [CChar](repeating: 0, count: n + 1)
        }
    }

    /// The transport of the open connection, "websocket" or "polling" (engine.io's names; a polling
    /// connection that upgraded reports "websocket"); nil while no connection is open (connecting,
    /// waiting to reconnect, closed).
    public var transportName: String? {
        guard let h = try? core.current() else { return nil }
        let name = String(cString: realtime_transport_name(h))
        return name.isEmpty ? nil : name
    }

    /// Whether the current connection recovered the previous session (connection state recovery).
    public var isRecovered: Bool {
        guard let h = try? core.current() else { return false }
        return realtime_is_recovered(h)
    }

    // MARK: Lifecycle handlers

    /// `handler` runs each time the namespace is joined (first connect and every reconnect).
    @discardableResult
    public func onConnect(_ handler: @escaping @Sendable () -> Void) throws -> ListenerID {
        let box = CallbackBox<Void>(core: core) { handler() }
        return try core.register(box) { realtime_on_connect($0, voidTrampoline, $1) }
    }

    /// `handler(reason)` runs on each disconnection.
    @discardableResult
    public func onDisconnect(_ handler: @escaping @Sendable (_ reason: String) -> Void) throws -> ListenerID {
        let box = CallbackBox<String>(core: core, handler: handler)
        return try core.register(box) { realtime_on_disconnect($0, stringTrampoline, $1) }
    }

    /// `handler(message, data)` runs when a connection attempt fails or the server refuses the namespace
    /// (`data` is the middleware error's `data`, `.null` if none).
    @discardableResult
    public func onError(_ handler: @escaping @Sendable (_ message: String, _ data: JSONValue) -> Void) throws -> ListenerID {
        let box = CallbackBox<(String, JSONValue)>(core: core) { handler($0.0, $0.1) }
        return try core.register(box) { realtime_on_error($0, errorTrampoline, $1) }
    }

    /// `handler(attempt)` runs just before each reconnection attempt, numbered from 1.
    @discardableResult
    public func onReconnectAttempt(_ handler: @escaping @Sendable (_ attempt: Int) -> Void) throws -> ListenerID {
        let box = CallbackBox<Int>(core: core, handler: handler)
        return try core.register(box) { realtime_on_reconnect_attempt($0, countTrampoline, $1) }
    }

    /// `handler(attempts)` runs when a reconnection succeeded (before onConnect).
    @discardableResult
    public func onReconnect(_ handler: @escaping @Sendable (_ attempts: Int) -> Void) throws -> ListenerID {
        let box = CallbackBox<Int>(core: core, handler: handler)
        return try core.register(box) { realtime_on_reconnect($0, countTrampoline, $1) }
    }

    /// `handler` runs once `reconnectionAttempts` attempts have failed.
    @discardableResult
    public func onReconnectFailed(_ handler: @escaping @Sendable () -> Void) throws -> ListenerID {
        let box = CallbackBox<Void>(core: core) { handler() }
        return try core.register(box) { realtime_on_reconnect_failed($0, voidTrampoline, $1) }
    }

    /// Removes a listener. When it returns, that handler does not run any more (see the class notes).
    /// Throws `.status(.unknownListener, …)` for an id that is not registered, `.closed` after close().
    public func off(_ id: ListenerID) throws { try core.off(id) }

    /// The lifecycle as an async sequence: each access returns a new stream, registered at once, that
    /// ends when the client is closed (or the consuming task stops iterating).
    public var lifecycle: AsyncStream<LifecycleEvent> {
        AsyncStream { continuation in
            var ids: [ListenerID] = []
            do {
                ids.append(try onConnect { continuation.yield(.connect) })
                ids.append(try onDisconnect { continuation.yield(.disconnect(reason: $0)) })
                ids.append(try onError { continuation.yield(.error(message: $0, data: $1)) })
                ids.append(try onReconnectAttempt { continuation.yield(.reconnectAttempt($0)) })
                ids.append(try onReconnect { continuation.yield(.reconnect(attempts: $0)) })
                ids.append(try onReconnectFailed { continuation.yield(.reconnectFailed) })
            } catch {
                for id in ids { try? core.off(id) }
                continuation.finish()
                return
            }
            guard let key = core.addFinisher({ continuation.finish() }) else {
                continuation.finish()
                return
            }
            let core = self.core
            let registered = ids
            continuation.onTermination = { _ in
                core.removeFinisher(key)
                // off() waits for a running listener; never block the thread that ends the stream.
                DispatchQueue.global().async { for id in registered { try? core.off(id) } }
            }
        }
    }

    // MARK: Main actor

    /// Handlers are `@Sendable`: they run on `queue`, not on the actor of the code that registered
    /// them, so a handler written in a `@MainActor` class cannot touch that class's state (the compiler
    /// says so). To handle events on the main actor, create the client with `queue: .main` and wrap
    /// the handler with `mainActor(_:)`:
    ///
    ///     let client = try RealtimeClient(url: url, queue: .main)
    ///     try client.on("chat", client.mainActor { [weak self] event in self?.messages.append(event) })
    ///
    /// The wrapped handler is `@MainActor`-isolated and runs there directly (no further hop, so every
    /// guarantee of `off(_:)` / `close()` holds). Throws `.status(.invalidArgument, …)` when the client's
    /// queue is not `DispatchQueue.main`.
    public func mainActor<T: Sendable>(_ handler: @escaping @MainActor @Sendable (T) -> Void) throws -> @Sendable (T) -> Void {
        try requireMainQueue()
        return { value in MainActor.assumeIsolated { handler(value) } }
    }

    /// `mainActor(_:)` for handlers without arguments (onConnect, onReconnectFailed).
    public func mainActor(_ handler: @escaping @MainActor @Sendable () -> Void) throws -> @Sendable () -> Void {
        try requireMainQueue()
        return { MainActor.assumeIsolated { handler() } }
    }

    /// `mainActor(_:)` for onError handlers.
    public func mainActor(_ handler: @escaping @MainActor @Sendable (String, JSONValue) -> Void) throws -> @Sendable (String, JSONValue) -> Void {
        try requireMainQueue()
        return { message, data in MainActor.assumeIsolated { handler(message, data) } }
    }

    private func requireMainQueue() throws {
        // Not `===`: on Linux, DispatchQueue.main returns a new wrapper of the main queue on each access.
        guard core.queue.label == DispatchQueue.main.label else {
            throw RealtimeError.status(.invalidArgument, message: "mainActor(_:) needs a client created with queue: .main")
        }
    }

    // MARK: Events

    /// `handler(event)` runs for each server event named `event`.
    @discardableResult
    public func on(_ event: String, _ handler: @escaping @Sendable (RealtimeEvent) -> Void) throws -> ListenerID {
        let box = CallbackBox<RealtimeEvent>(core: core, handler: handler)
        return try core.register(box, finalizer: .passed) {
            realtime_on_with_free($0, event, eventTrampoline, $1, listenerFinalizer)
        }
    }

    /// Like `on`, but the handler runs at most once.
    @discardableResult
    public func once(_ event: String, _ handler: @escaping @Sendable (RealtimeEvent) -> Void) throws -> ListenerID {
        let box = CallbackBox<RealtimeEvent>(core: core, handler: handler)
        return try core.register(box, finalizer: .passed) {
            realtime_once_with_free($0, event, eventTrampoline, $1, listenerFinalizer)
        }
    }

    /// `handler(event)` runs for every server event, before the named handlers (onAny).
    @discardableResult
    public func onAny(_ handler: @escaping @Sendable (RealtimeEvent) -> Void) throws -> ListenerID {
        let box = CallbackBox<RealtimeEvent>(core: core, handler: handler)
        let id = try core.register(box, finalizer: .passed) {
            realtime_on_any_with_free($0, eventTrampoline, $1, listenerFinalizer)
        }
        core.addAnyListener(id)
        return id
    }

    /// Removes every `onAny` handler.
    public func offAny() throws {
        _ = try core.current()
        // One by one (as realtime_off_any does), so that each box is released once it cannot run.
        for id in core.takeAnyListeners() { try? core.off(id) }
    }

    /// Emits `event` with `args`, then the `binary` buffers as further arguments. `.binary` values may
    /// also appear anywhere in `args`; binary data is sent as binary frames. Buffered while offline
    /// (up to maxBufferedEmits) and sent after the next connect.
    public func emit(_ event: String, _ args: JSONValue..., binary: Data...) throws {
        try emit(event, args: args + binary.map(JSONValue.binary))
    }

    /// `emit` with an array of arguments.
    public func emit(_ event: String, args: [JSONValue]) throws {
        var buffers: [Data] = []
        let json = JSONValue.array(args).encoded(buffers: &buffers)
        try core.call { h in
            buffers.isEmpty
                ? realtime_emit(h, event, json)
                : withBuffers(buffers) { realtime_emit_binary(h, event, json, $0, $1, 0, nil, nil) }
        }
    }

    /// Emits, but drops the event (without error) when not connected; never buffered. No binary.
    public func emitVolatile(_ event: String, _ args: JSONValue...) throws {
        var buffers: [Data] = []
        let json = JSONValue.array(args).encoded(buffers: &buffers)
        guard buffers.isEmpty else {
            throw RealtimeError.status(.invalidArgument, message: "emitVolatile does not send binary data")
        }
        try core.call { realtime_emit_volatile($0, event, json) }
    }

    /// Emits asking the server for an ack and returns the server's answer. Throws `.ackTimeout` after
    /// `timeout` seconds (nil: the ackTimeout option; without it, no timeout), `.disconnected` when the
    /// connection drops after the packet was sent, `.closed` if the client is closed meanwhile,
    /// CancellationError if the task is cancelled.
    public func emitWithAck(_ event: String, _ args: JSONValue..., binary: Data..., timeout: TimeInterval? = nil) async throws -> [JSONValue] {
        try await emitWithAck(event, args: args + binary.map(JSONValue.binary), timeout: timeout)
    }

    /// `emitWithAck` with an array of arguments.
    public func emitWithAck(_ event: String, args: [JSONValue], timeout: TimeInterval? = nil) async throws -> [JSONValue] {
        var buffers: [Data] = []
        let json = JSONValue.array(args).encoded(buffers: &buffers)
        let ms: UInt32 = timeout.map(milliseconds) ?? 0
        let core = self.core
        let box = OneShot<[JSONValue]>(core: core) { error, argsJSON, data in
            if let error { return .failure(RealtimeError.async(error)) }
            return .success(parseJSON(argsJSON, buffers: data).arrayValue ?? [])
        }
        return try await box.run { box in
            try core.startPending(box) { h, ud in
                buffers.isEmpty
                    ? realtime_emit_with_ack(h, event, json, ms, ackTrampoline, ud)
                    : withBuffers(buffers) { realtime_emit_binary(h, event, json, $0, $1, ms, ackTrampoline, ud) }
            }
        }
    }

    // MARK: Channels (Agnost)

    /// Joins `channel` (re-joined after every reconnect with the autoJoinChannels option).
    public func join(_ channel: String) throws { try core.call { realtime_join($0, channel) } }

    /// Leaves `channel`.
    public func leave(_ channel: String) throws { try core.call { realtime_leave($0, channel) } }

    /// Sends `message` as `event` to the members of `channel` (nil: to every client). Receivers get it
    /// through `onMessage(event)`.
    public func send(channel: String?, event: String, message: JSONValue) throws {
        let json = try Self.plainJSON(message)
        try core.call { h in withOptionalCString(channel) { realtime_send(h, $0, event, json) } }
    }

    /// Sends `message` as `event` to every connected client.
    public func broadcast(event: String, message: JSONValue) throws {
        let json = try Self.plainJSON(message)
        try core.call { realtime_broadcast($0, event, json) }
    }

    /// Sets this member's profile; the other members of its channels get a channel update.
    public func updateProfile(_ data: JSONValue) throws {
        let json = try Self.plainJSON(data)
        try core.call { realtime_update_profile($0, json) }
    }

    /// The members of `channel` (the ackTimeout option applies).
    public func members(channel: String) async throws -> [Member] {
        let core = self.core
        let box = OneShot<[Member]>(core: core) { error, json, _ in
            if let error { return .failure(RealtimeError.async(error)) }
            let list = parseJSON(json).arrayValue ?? []
            return .success(list.map { Member(id: $0["id"]?.stringValue ?? "", data: $0["data"] ?? .null) })
        }
        return try await box.run { box in
            try core.startPending(box) { h, ud in realtime_get_members(h, channel, membersTrampoline, ud) }
        }
    }

    /// `handler` runs when a member joins one of this client's channels.
    @discardableResult
    public func onChannelJoin(_ handler: @escaping @Sendable (ChannelEvent) -> Void) throws -> ListenerID {
        let box = CallbackBox<ChannelEvent>(core: core, handler: handler)
        return try core.register(box) { realtime_on_channel_join($0, channelTrampoline, $1) }
    }

    /// `handler` runs when a member leaves one of this client's channels.
    @discardableResult
    public func onChannelLeave(_ handler: @escaping @Sendable (ChannelEvent) -> Void) throws -> ListenerID {
        let box = CallbackBox<ChannelEvent>(core: core, handler: handler)
        return try core.register(box) { realtime_on_channel_leave($0, channelTrampoline, $1) }
    }

    /// `handler` runs when a member of one of this client's channels updates its profile.
    @discardableResult
    public func onChannelUpdate(_ handler: @escaping @Sendable (ChannelEvent) -> Void) throws -> ListenerID {
        let box = CallbackBox<ChannelEvent>(core: core, handler: handler)
        return try core.register(box) { realtime_on_channel_update($0, channelTrampoline, $1) }
    }

    /// `handler` runs for channel messages and broadcasts sent as `event` (channel nil for a broadcast).
    @discardableResult
    public func onMessage(_ event: String, _ handler: @escaping @Sendable (ChannelEvent) -> Void) throws -> ListenerID {
        let box = CallbackBox<ChannelEvent>(core: core, handler: handler)
        return try core.register(box) { realtime_on_message($0, event, channelTrampoline, $1) }
    }

    /// Channel messages and profiles are plain JSON (the channel API has no binary attachments).
    static func plainJSON(_ value: JSONValue) throws -> String {
        var buffers: [Data] = []
        let json = value.encoded(buffers: &buffers)
        guard buffers.isEmpty else {
            throw RealtimeError.status(.invalidArgument, message: "channel messages and profiles cannot hold binary data")
        }
        return json
    }
}
