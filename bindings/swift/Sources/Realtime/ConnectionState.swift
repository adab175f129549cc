import CRealtime
import Foundation

/// The connection state of a client's namespace, as `RealtimeClient.connectionState` and
/// `RealtimeClient.connectionStates` report it.
public enum ConnectionState: Hashable, Sendable {
    /// A connection attempt is under way (after `init` with autoConnect, `open()`, before each
    /// reconnection attempt).
    case connecting
    /// The namespace is joined.
    case connected
    /// Not connected. `reason` is the disconnect reason ("io client disconnect", "transport close", ...)
    /// or the message of the connection error that ended the last attempt; nil before the first attempt
    /// (`"autoConnect": false`). Reconnection may follow (`.connecting` again), as socket.io-client would.
    case disconnected(reason: String?)
    /// `close()` was called; the stream ends after this value.
    case closed
}

/// The current state and its subscribers. Once tracked (from the first use of the state, see
/// Core.ensureStateTracking), updated on the library's callback thread, in event order,
/// before the app's handlers for that event are queued (so inside `onConnect`, the state is
/// `.connected`), and by open() / disconnect() / close().
final class ConnectionStateStore: @unchecked Sendable {
    private let lock = NSLock()
    private var current: ConnectionState
    private var subscribers: [Int: AsyncStream<ConnectionState>.Continuation] = [:]
    private var nextKey = 0

    init(_ initial: ConnectionState) { current = initial }

    var value: ConnectionState {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    /// Sets the state (nothing after `.closed`); `only` limits the change to the given current states.
    func set(_ new: ConnectionState, fromEvent: Bool = false, ifCurrent only: ((ConnectionState) -> Bool)? = nil) {
        lock.lock()
        if fromEvent { observedEvent = true }
        if current == .closed || current == new || !(only?(current) ?? true) {
            lock.unlock()
            return
        }
        current = new
        // Yielded under the lock: every subscriber sees the changes in order, after its replay.
        for c in subscribers.values { c.yield(new) }
        var ended: [AsyncStream<ConnectionState>.Continuation] = []
        if new == .closed {
            ended = Array(subscribers.values)
            subscribers = [:]
        }
        lock.unlock()
        // finish() runs onTermination (which takes the lock) synchronously: outside the lock.
        for c in ended { c.finish() }
    }

    /// Whether an event from the library was recorded (then it, not `seed`, tells the state).
    private var observedEvent = false

    /// The state when tracking starts: connected or not, from realtime_is_connected(); when not,
    /// what init / open() / disconnect() said (events before tracking are not known).
    func seed(connected: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if observedEvent || current == .closed { return }
        if connected { current = .connected } else if current == .connected { current = .connecting }
    }

    /// A stream that starts with the current state, then every change; it ends after `.closed`.
    func stream() -> AsyncStream<ConnectionState> {
        AsyncStream(bufferingPolicy: .unbounded) { continuation in
            lock.lock()
            continuation.yield(current)
            if current == .closed {
                lock.unlock()
                continuation.finish()
                return
            }
            nextKey += 1
            let key = nextKey
            subscribers[key] = continuation
            lock.unlock()
            continuation.onTermination = { [weak self] _ in self?.remove(key) }
        }
    }

    private func remove(_ key: Int) {
        lock.lock(); subscribers[key] = nil; lock.unlock()
    }
}

/// An internal listener feeding the store, called on the library's thread (no hop to the app's queue).
final class StateBox: ListenerBox, @unchecked Sendable {
    let store: ConnectionStateStore
    init(_ store: ConnectionStateStore) { self.store = store }
}

extension Core {
    /// Registers the internal listeners that keep `connection` up to date (`ops` held).
    func trackConnectionState() throws {
        let s = connection
        try registerLocked(StateBox(s)) { realtime_on_connect($0, stateConnectTrampoline, $1) }
        try registerLocked(StateBox(s)) { realtime_on_disconnect($0, stateDisconnectTrampoline, $1) }
        try registerLocked(StateBox(s)) { realtime_on_error($0, stateErrorTrampoline, $1) }
        try registerLocked(StateBox(s)) { realtime_on_reconnect_attempt($0, stateAttemptTrampoline, $1) }
    }
}

private func stateStore(_ ud: UnsafeMutableRawPointer?) -> ConnectionStateStore {
    Unmanaged<StateBox>.fromOpaque(ud!).takeUnretainedValue().store
}

let stateConnectTrampoline: @convention(c) (UnsafeMutableRawPointer?) -> Void = { ud in
    stateStore(ud).set(.connected, fromEvent: true)
}

let stateDisconnectTrampoline: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void = { ud, reason in
    stateStore(ud).set(.disconnected(reason: string(reason)), fromEvent: true)
}

let stateErrorTrampoline: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    ud, message, _ in
    // A failed attempt (or a refusal) while not connected.
    stateStore(ud).set(.disconnected(reason: string(message)), fromEvent: true, ifCurrent: { $0 != .connected })
}

let stateAttemptTrampoline: @convention(c) (UnsafeMutableRawPointer?, UInt32) -> Void = { ud, _ in
    stateStore(ud).set(.connecting, fromEvent: true)
}
