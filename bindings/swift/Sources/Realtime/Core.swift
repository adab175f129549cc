import CRealtime
import Foundation

// The native handle, the listener boxes handed to C as user_data, and the trampolines.
//
// Ownership rules:
// - A listener box is retained for the C side (Unmanaged.passRetained) at its registration, and that
//   reference is released only by the library's finalizer callback (`listenerFinalizer`, attached with
//   the `_with_free` registration functions or realtime_set_finalizer), which the library calls exactly
//   once after the listener's last possible callback: after realtime_off() / realtime_free() and after
//   a running call returned (also for a once-listener that is running when it is removed). So no
//   trampoline can ever use a released box, whoever removes the listener and from whatever thread.
//   The `listeners` table holds a second, Swift-side reference, used to deactivate the box at off() /
//   close(); the finalizer drops that entry too (a once-listener that ran).
// - A one-shot box (ack, members) is retained while registered in `pending`; whoever removes it from
//   `pending` (the trampoline when the library answers, the failing call, or close() after
//   realtime_free()) releases it. The library drops unanswered ack callbacks on realtime_free(), hence
//   close() fails and releases what is left. A tracked emit's box is one too: released after its final
//   status, or by close() (realtime_free() ends tracking without a final status).
// - The library has no finalizer for an auth provider's user_data and may still call a replaced
//   provider for a CONNECT it was preparing, so every AuthProviderBox set is kept in `authProviders`
//   until close() (after realtime_free()).
// - `ops` serialises registration, off and close (the calls that change which boxes the library
//   holds). Trampolines and finalizers never take `ops`, so realtime_off()/realtime_free() waiting for a
//   running callback cannot deadlock. `state` guards the fields and is never held across a call into C.
// - Other calls use the handle without a lock: handles are keys into the library's table, so a call
//   racing with realtime_free() gets REALTIME_STATUS_INVALID_HANDLE (reported as .closed), never a crash.

/// Base of the boxes registered as listeners: delivery stops at off()/close().
class ListenerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var active = true
    /// Guarded by the owning core's `state` lock: the listener id once registered, and whether the
    /// library's finalizer ran (possibly before the id was recorded, for a once-listener).
    weak var owner: Core?
    var listenerID: UInt64 = 0
    var finalized = false
    var isActive: Bool {
        lock.lock(); defer { lock.unlock() }
        return active
    }
    func deactivate() {
        lock.lock(); active = false; lock.unlock()
    }
}

/// A listener: the value built on the callback thread is handed to `handler` on `queue`, in order,
/// unless the listener was removed (or the client closed) in the meantime.
final class CallbackBox<T: Sendable>: ListenerBox, @unchecked Sendable {
    let core: Core
    let handler: @Sendable (T) -> Void
    init(core: Core, handler: @escaping @Sendable (T) -> Void) {
        self.core = core
        self.handler = handler
    }
    func deliver(_ value: T) {
        core.queue.async { [self] in
            if self.isActive { self.handler(value) }
        }
    }
}

/// Base of the one-shot boxes (ack answers, member lists).
class PendingBox: @unchecked Sendable {
    func fail(_ error: Error) {}
}

/// A one-shot box completing a continuation exactly once (from the library, a failed call, a task
/// cancellation or close()). The result may arrive before the continuation is set.
final class OneShot<T: Sendable>: PendingBox, @unchecked Sendable {
    let core: Core
    let decode: @Sendable (_ error: String?, _ json: String?, _ buffers: [Data]) -> Result<T, Error>
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    private var result: Result<T, Error>?
    private var done = false

    init(core: Core, decode: @escaping @Sendable (String?, String?, [Data]) -> Result<T, Error>) {
        self.core = core
        self.decode = decode
    }

    func complete(_ r: Result<T, Error>) {
        lock.lock()
        if done { lock.unlock(); return }
        done = true
        if let c = continuation {
            continuation = nil
            lock.unlock()
            c.resume(with: r)
        } else {
            result = r
            lock.unlock()
        }
    }

    func attach(_ c: CheckedContinuation<T, Error>) {
        lock.lock()
        if let r = result {
            result = nil
            lock.unlock()
            c.resume(with: r)
        } else {
            continuation = c
            lock.unlock()
        }
    }

    override func fail(_ error: Error) { complete(.failure(error)) }

    /// Runs `start` (which hands this box to the library), waits for the answer; cancellation of the
    /// task fails it with CancellationError (a late answer is then ignored).
    func run(_ start: (OneShot<T>) throws -> Void) async throws -> T {
        do { try start(self) } catch { complete(.failure(error)) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { attach($0) }
        } onCancel: {
            self.complete(.failure(CancellationError()))
        }
    }
}

/// Answers one server ack request exactly once.
final class AckResponder: @unchecked Sendable {
    let core: Core
    let ackId: UInt64
    private let lock = NSLock()
    private var used = false
    init(core: Core, ackId: UInt64) {
        self.core = core
        self.ackId = ackId
    }
    func answer(_ args: [JSONValue]) throws {
        lock.lock()
        if used { lock.unlock(); throw RealtimeError.alreadyAcknowledged }
        used = true
        lock.unlock()
        try core.ack(ackId, args)
    }
}

final class Core: @unchecked Sendable {
    let queue: DispatchQueue
    private let ops = NSLock()
    private let state = NSLock()
    private var handle: OpaquePointer?
    private var listeners: [UInt64: ListenerBox] = [:]
    private var pending: [UnsafeMutableRawPointer: Unmanaged<PendingBox>] = [:]
    private var finishers: [Int: @Sendable () -> Void] = [:]
    private var nextFinisher = 0
    /// Every auth provider set (guarded by `ops`), the library's user_data until realtime_free().
    private var authProviders: [AuthProviderBox] = []

    /// The connection state (kept up to date by internal listeners, see ConnectionState.swift).
    let connection: ConnectionStateStore

    /// Takes ownership of the handle `create` returns; throws the library's error for NULL.
    init(queue: DispatchQueue, autoConnect: Bool, create: () -> OpaquePointer?) throws {
        self.queue = queue
        connection = ConnectionStateStore(autoConnect ? .connecting : .disconnected(reason: nil))
        guard let h = create() else {
            // realtime_new/realtime_new_namespace return NULL; the status is this thread's last failure.
            throw RealtimeError.last(RealtimeStatus(realtime_last_error_status()))
        }
        handle = h
    }

    /// Whether the internal state listeners are registered (guarded by `ops`).
    private var trackingState = false

    /// Registers the internal listeners behind `connection` on first use, then seeds it from the
    /// library. Lazily, because a listener present from the start would let the first events pass
    /// before the app registered its own handlers (the library holds an event right after
    /// realtime_new() only while it has no listener at all).
    func ensureStateTracking() {
        ops.lock()
        defer { ops.unlock() }
        guard !trackingState, let h = try? current() else { return }
        do {
            try trackConnectionState()
        } catch {
            return  // not expected; the state then follows open()/disconnect()/close() only
        }
        trackingState = true
        connection.seed(connected: realtime_is_connected(h))
    }

    var isClosed: Bool {
        state.lock(); defer { state.unlock() }
        return handle == nil
    }

    /// The handle, or .closed.
    func current() throws -> OpaquePointer {
        state.lock(); defer { state.unlock() }
        guard let h = handle else { throw RealtimeError.closed }
        return h
    }

    /// Throws for a status other than OK (.closed when the handle was freed by close()).
    func check(_ status: realtime_status) throws {
        let s = RealtimeStatus(status)
        if s == .ok { return }
        let error = RealtimeError.last(s)
        if s == .invalidHandle && isClosed { throw RealtimeError.closed }
        throw error
    }

    func call(_ body: (OpaquePointer) -> realtime_status) throws {
        try check(body(try current()))
    }

    // MARK: listeners

    /// How `register`'s `add` hands the box's finalizer to the library.
    enum Finalizer {
        /// `add` used a `_with_free` function with `listenerFinalizer`.
        case passed
        /// `add` used a plain registration: attach it with realtime_set_finalizer() (persistent
        /// listeners only; no off/free can come in between, as `ops` is held).
        case attach
    }

    /// Registers a listener: `add(handle, user_data)` returns the library's id (0 on failure, with this
    /// thread's last error telling why).
    @discardableResult
    func register(_ box: ListenerBox, finalizer: Finalizer = .attach,
                  _ add: (OpaquePointer, UnsafeMutableRawPointer) -> UInt64) throws -> ListenerID {
        ops.lock()
        defer { ops.unlock() }
        return try registerLocked(box, finalizer: finalizer, add)
    }

    /// `register` with `ops` held.
    @discardableResult
    func registerLocked(_ box: ListenerBox, finalizer: Finalizer = .attach,
                        _ add: (OpaquePointer, UnsafeMutableRawPointer) -> UInt64) throws -> ListenerID {
        guard let h = try? current() else { throw RealtimeError.closed }
        box.owner = self
        let retained = Unmanaged.passRetained(box as ListenerBox)  // the library's reference
        let id = add(h, retained.toOpaque())
        if id == 0 {
            // The finalizer is not called for a failed registration: the reference is ours again.
            let status = RealtimeStatus(realtime_last_error_status())
            let error = RealtimeError.last(status == .ok ? .internal : status)
            retained.release()
            if status == .invalidHandle && isClosed { throw RealtimeError.closed }
            throw error
        }
        if finalizer == .attach {
            let status = RealtimeStatus(realtime_set_finalizer(h, id, listenerFinalizer))
            if status != .ok {
                // Not expected (the listener is persistent and nothing removed it): remove it, which
                // waits for a running call (we are never inside a library callback), then release.
                let error = RealtimeError.last(status)
                box.deactivate()
                _ = realtime_off(h, id)
                retained.release()
                throw error
            }
        }
        state.lock()
        box.listenerID = id
        if !box.finalized { listeners[id] = box }
        state.unlock()
        return ListenerID(rawValue: id)
    }

    /// Called by the library's finalizer (any thread): the listener will never be called again.
    func listenerFinalized(_ box: ListenerBox) {
        state.lock()
        box.finalized = true
        if box.listenerID != 0, listeners[box.listenerID] === box {
            listeners[box.listenerID] = nil
        }
        state.unlock()
    }

    /// How many listeners the Swift side tracks (for tests).
    var listenerCount: Int {
        state.lock(); defer { state.unlock() }
        return listeners.count
    }

    func off(_ id: ListenerID) throws {
        ops.lock()
        state.lock()
        let h = handle
        let box = listeners.removeValue(forKey: id.rawValue)
        state.unlock()
        guard let h else {
            ops.unlock()
            throw RealtimeError.closed
        }
        box?.deactivate()
        // Waits until that listener is not running; the library's finalizer then releases its reference.
        let status = RealtimeStatus(realtime_off(h, id.rawValue))
        let error: Error? = status == .ok ? nil : RealtimeError.last(status)
        ops.unlock()
        if let error { throw error }
    }

    private var anyListeners: Set<ListenerID> = []
    func addAnyListener(_ id: ListenerID) {
        state.lock(); anyListeners.insert(id); state.unlock()
    }
    func takeAnyListeners() -> Set<ListenerID> {
        state.lock(); defer { state.unlock() }
        let ids = anyListeners
        anyListeners = []
        return ids
    }

    // MARK: one-shot requests

    /// Registers `box` as pending, then starts the request with its user_data; on a synchronous
    /// failure the box is taken back (if close() did not take it already) and the error thrown.
    func startPending(_ box: PendingBox, _ start: (OpaquePointer, UnsafeMutableRawPointer) -> realtime_status) throws {
        let retained = Unmanaged.passRetained(box)
        let key = retained.toOpaque()
        state.lock()
        guard let h = handle else {
            state.unlock()
            retained.release()
            throw RealtimeError.closed
        }
        pending[key] = retained
        state.unlock()
        let status = start(h, key)
        if RealtimeStatus(status) != .ok {
            let error = RealtimeError.last(RealtimeStatus(status))
            takePending(key)?.release()
            if RealtimeStatus(status) == .invalidHandle && isClosed { throw RealtimeError.closed }
            throw error
        }
    }

    /// Removes a pending box; nil when someone else took it already.
    @discardableResult
    func takePending(_ key: UnsafeMutableRawPointer) -> Unmanaged<PendingBox>? {
        state.lock(); defer { state.unlock() }
        return pending.removeValue(forKey: key)
    }

    /// How many one-shot requests wait for the library (for tests).
    var pendingCount: Int {
        state.lock(); defer { state.unlock() }
        return pending.count
    }

    // MARK: streams

    func addFinisher(_ f: @escaping @Sendable () -> Void) -> Int? {
        state.lock(); defer { state.unlock() }
        if handle == nil { return nil }
        nextFinisher += 1
        finishers[nextFinisher] = f
        return nextFinisher
    }

    func removeFinisher(_ key: Int) {
        state.lock(); finishers[key] = nil; state.unlock()
    }

    // MARK: auth provider

    /// realtime_set_auth_provider() with `box` (nil: removes the provider).
    func setAuthProvider(_ box: AuthProviderBox?) throws {
        ops.lock()
        defer { ops.unlock() }
        guard let h = try? current() else { throw RealtimeError.closed }
        if let box { authProviders.append(box) }
        // Not retained for the library: `authProviders` holds the box until realtime_free() returned.
        let status = realtime_set_auth_provider(h, box == nil ? nil : authTrampoline,
                                                box.map { Unmanaged.passUnretained($0).toOpaque() })
        if RealtimeStatus(status) != .ok, box != nil {
            authProviders.removeLast()  // not taken: the library kept the previous provider
        }
        try check(status)
    }

    /// Answers auth request `requestID` (nil declines); ignored after close().
    func authReply(_ requestID: UInt64, _ json: String?) {
        guard let h = try? current() else { return }
        // OK also for a request that stopped waiting (timed out, connection gone); the object is valid.
        _ = withOptionalCString(json) { realtime_auth_reply(h, requestID, $0) }
    }

    // MARK: close

    /// realtime_free(), then releases every box. Idempotent. Never called on a library thread.
    func close() {
        ops.lock()
        state.lock()
        let h = handle
        handle = nil
        let boxes = listeners
        listeners = [:]
        let fins = finishers
        finishers = [:]
        state.unlock()
        guard let h else {
            ops.unlock()
            return
        }
        connection.set(.closed)  // ends the state streams
        for box in boxes.values { box.deactivate() }
        realtime_free(h)  // returns when no callback of this client runs, and none follows
        state.lock()
        let leftovers = pending
        pending = [:]
        state.unlock()
        let providers = authProviders
        authProviders = []
        ops.unlock()
        for p in leftovers.values {
            p.takeUnretainedValue().fail(RealtimeError.closed)
            p.release()
        }
        for provider in providers { provider.cancel() }  // running provider tasks; their answers are dropped
        _ = boxes  // the library's finalizers released (or release) its references
        // After the events already queued for the app (queue order), end the lifecycle streams.
        if !fins.isEmpty {
            queue.async { for f in fins.values { f() } }
        }
    }

    // MARK: acks

    func ack(_ ackId: UInt64, _ args: [JSONValue]) throws {
        var buffers: [Data] = []
        let json = JSONValue.array(args).encoded(buffers: &buffers)
        let h = try current()
        let status: realtime_status
        if buffers.isEmpty {
            status = realtime_ack(h, ackId, json)
        } else {
            status = withBuffers(buffers) { realtime_ack_binary(h, ackId, json, $0, $1) }
        }
        try check(status)
    }
}

// MARK: - C helpers

/// Seconds as the library's milliseconds: at least 1 ms, at most UInt32.max (also for infinity / NaN).
func milliseconds(_ seconds: TimeInterval) -> UInt32 {
    let ms = (seconds * 1000).rounded()
    guard ms < Double(UInt32.max) else { return UInt32.max }
    return UInt32(max(1, ms))
}

func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}

/// `realtime_buffer` views of `datas`, valid during `body`.
func withBuffers<R>(_ datas: [Data], _ body: (UnsafePointer<realtime_buffer>?, Int) -> R) -> R {
    if datas.isEmpty { return body(nil, 0) }
    var joined = [UInt8]()
    joined.reserveCapacity(datas.reduce(1) { $0 + $1.count })
    for d in datas { joined.append(contentsOf: d) }
    joined.append(0)  // never empty: a valid (non-NULL) pointer even for empty buffers
    return joined.withUnsafeBufferPointer { base in
        var views: [realtime_buffer] = []
        var offset = 0
        for d in datas {
            views.append(realtime_buffer(data: base.baseAddress! + offset, len: d.count))
            offset += d.count
        }
        return views.withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
    }
}

/// Copies borrowed buffers.
func copyBuffers(_ buffers: UnsafePointer<realtime_buffer>?, _ count: Int) -> [Data] {
    guard let buffers, count > 0 else { return [] }
    return (0..<count).map { i in
        let b = buffers[i]
        guard let p = b.data, b.len > 0 else { return Data() }
        return Data(bytes: p, count: b.len)
    }
}

func string(_ p: UnsafePointer<CChar>?) -> String? {
    p.map { String(cString: $0) }
}

/// Parses JSON text received from the library (which only hands out valid JSON); `.null` if it is not.
func parseJSON(_ text: String?, buffers: [Data] = []) -> JSONValue {
    guard let text, let v = try? JSONValue(parsing: text) else { return .null }
    return v.resolvingPlaceholders(buffers)
}

// MARK: - Trampolines (C function pointers; user_data is the box)

/// The finalizer of every listener: drops the library's reference to the box, after its last call.
let listenerFinalizer: realtime_finalizer_fn = { ud in
    let box = Unmanaged<ListenerBox>.fromOpaque(ud!)
    let listener = box.takeUnretainedValue()
    listener.owner?.listenerFinalized(listener)
    box.release()
}

let voidTrampoline: @convention(c) (UnsafeMutableRawPointer?) -> Void = { ud in
    Unmanaged<CallbackBox<Void>>.fromOpaque(ud!).takeUnretainedValue().deliver(())
}

let stringTrampoline: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void = { ud, s in
    Unmanaged<CallbackBox<String>>.fromOpaque(ud!).takeUnretainedValue().deliver(string(s) ?? "")
}

let errorTrampoline: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    ud, message, data in
    let box = Unmanaged<CallbackBox<(String, JSONValue)>>.fromOpaque(ud!).takeUnretainedValue()
    box.deliver((string(message) ?? "", parseJSON(string(data))))
}

let countTrampoline: @convention(c) (UnsafeMutableRawPointer?, UInt32) -> Void = { ud, n in
    Unmanaged<CallbackBox<Int>>.fromOpaque(ud!).takeUnretainedValue().deliver(Int(n))
}

let eventTrampoline: realtime_event_fn = { ud, name, argsJSON, buffers, count, ackId in
    let box = Unmanaged<CallbackBox<RealtimeEvent>>.fromOpaque(ud!).takeUnretainedValue()
    let data = copyBuffers(buffers, count)
    let text = string(argsJSON) ?? "[]"
    let args = parseJSON(text, buffers: data).arrayValue ?? []
    let responder = ackId == 0 ? nil : AckResponder(core: box.core, ackId: ackId)
    box.deliver(RealtimeEvent(name: string(name) ?? "", args: args, buffers: data, argsJSON: text, responder: responder))
}

let channelTrampoline: realtime_channel_fn = { ud, channel, member, data in
    let box = Unmanaged<CallbackBox<ChannelEvent>>.fromOpaque(ud!).takeUnretainedValue()
    let text = string(data) ?? "null"
    box.deliver(ChannelEvent(channel: string(channel), memberId: string(member), data: parseJSON(text), dataJSON: text))
}

let ackTrampoline: realtime_ack_fn = { ud, error, argsJSON, buffers, count in
    let box = Unmanaged<OneShot<[JSONValue]>>.fromOpaque(ud!).takeUnretainedValue()
    let owned = box.core.takePending(ud!)
    box.complete(box.decode(string(error), string(argsJSON), copyBuffers(buffers, count)))
    owned?.release()
}

let membersTrampoline: realtime_members_fn = { ud, error, json in
    let box = Unmanaged<OneShot<[Member]>>.fromOpaque(ud!).takeUnretainedValue()
    let owned = box.core.takePending(ud!)
    box.complete(box.decode(string(error), string(json), []))
    owned?.release()
}
