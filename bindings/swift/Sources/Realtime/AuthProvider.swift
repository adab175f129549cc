import CRealtime
import Foundation

/// The user_data of an auth provider: each request of the library starts a task that awaits the
/// provider, then answers with realtime_auth_reply() (nil, a throw or binary data: declines with NULL).
/// Kept by the core until close(), which cancels the tasks still running.
final class AuthProviderBox: @unchecked Sendable {
    let core: Core
    let provider: @Sendable () async throws -> [String: JSONValue]?
    private let lock = NSLock()
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var cancelled = false

    init(core: Core, provider: @escaping @Sendable () async throws -> [String: JSONValue]?) {
        self.core = core
        self.provider = provider
    }

    /// Called on the library's callback thread: must not wait for the provider.
    func ask(_ requestID: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        if cancelled { return }
        // Created under the lock, so the task's own removal (which takes it) comes after the insertion.
        tasks[requestID] = Task { [self] in
            var json: String?
            do {
                json = try await provider().map { try RealtimeClient.plainJSON(.object($0)) }
            } catch {
                json = nil
            }
            if !Task.isCancelled { core.authReply(requestID, json) }
            finished(requestID)
        }
    }

    private func finished(_ requestID: UInt64) {
        lock.lock(); tasks[requestID] = nil; lock.unlock()
    }

    /// close(): no further request starts a task; running ones are cancelled and answer nothing.
    func cancel() {
        lock.lock()
        cancelled = true
        let running = tasks
        tasks = [:]
        lock.unlock()
        for task in running.values { task.cancel() }
    }
}

let authTrampoline: realtime_auth_fn = { ud, requestID in
    Unmanaged<AuthProviderBox>.fromOpaque(ud!).takeUnretainedValue().ask(requestID)
}

extension RealtimeClient {
    /// Sets the auth provider (`realtime_set_auth_provider`): before each CONNECT of this namespace (the
    /// first connection, every reconnection, every `open()` after a refusal) the wrapper starts a task
    /// that awaits `provider` and sends its answer as the CONNECT's `auth`, replacing the `auth` option
    /// for that CONNECT and later ones. nil, a thrown error or binary data declines: the client gets an
    /// onError and stops, as after a server refusal, until `open()`. No answer within the
    /// `authTimeout` option (default 10 s) ends the same way.
    ///
    /// - The provider runs in a task of its own (not on `queue`); a `@MainActor` closure runs on the
    ///   main actor. The task is cancelled by `close()`.
    /// - Set it before the first connection: create the client with `"autoConnect": false`, set the
    ///   provider, then `open()` (it applies to CONNECTs sent after it took effect).
    /// - Expired tokens: when the server refuses the CONNECT (onError with the server's message), call
    ///   `open()`: the provider is asked again and can refresh the token first.
    /// - `setAuthProvider(nil)` removes it (the last answer stays the `auth` in use). A replaced or
    ///   removed provider is released by `close()`: the library may still ask it for a CONNECT it was
    ///   preparing. Capture the client weakly in it (`[weak client]`).
    ///
    /// Throws `.closed` after `close()`.
    public func setAuthProvider(_ provider: (@Sendable () async throws -> [String: JSONValue]?)?) throws {
        try core.setAuthProvider(provider.map { AuthProviderBox(core: core, provider: $0) })
    }
}
