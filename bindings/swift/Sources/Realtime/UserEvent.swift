import CRealtime
import Foundation

/// An Agnost user event (`realtime_on_user_event`), as `RealtimeClient.onUserEvent` delivers it.
public struct UserEvent: Hashable, Sendable {
    /// `"user:signin"`, `"user:signout"`, `"user:update"`, `"user:delete"`, `"user:pwdchange"`,
    /// `"user:emailchange"` or `"user:phonechange"`.
    public let name: String
    /// The session as the server sent it (`.null` when absent).
    public let session: JSONValue
    /// The user as the server sent it (`.null` when absent).
    public let user: JSONValue
}

let userEventTrampoline: realtime_user_event_fn = { ud, event, session, user in
    let box = Unmanaged<CallbackBox<UserEvent>>.fromOpaque(ud!).takeUnretainedValue()
    box.deliver(UserEvent(name: string(event) ?? "", session: parseJSON(string(session)), user: parseJSON(string(user))))
}

extension RealtimeClient {
    /// `handler(event)` runs for each of Agnost's user events (`user:signin`, `user:signout`,
    /// `user:update`, `user:delete`, `user:pwdchange`, `user:emailchange`, `user:phonechange`, pushed
    /// by the API server to the sockets of the session's user): one handler for all of them, like
    /// Agnost's `onUserEvent`. They are not channel messages: `onMessage` never gets them. A plain
    /// `on("user:update")` still gets that event too, with its arguments `[name, session, user]`.
    /// `offAny()` does not remove this handler; `off(_:)` does.
    @discardableResult
    public func onUserEvent(_ handler: @escaping @Sendable (UserEvent) -> Void) throws -> ListenerID {
        let box = CallbackBox<UserEvent>(core: core, handler: handler)
        return try core.register(box) { realtime_on_user_event($0, userEventTrampoline, $1) }
    }

    /// The user events as an async sequence: each access returns a new stream, registered at once, that
    /// ends when the client is closed (or the consuming task stops iterating).
    public var userEvents: AsyncStream<UserEvent> {
        AsyncStream { continuation in
            let id: ListenerID
            do {
                id = try onUserEvent { continuation.yield($0) }
            } catch {
                continuation.finish()
                return
            }
            let core = self.core
            guard let key = core.addFinisher({ continuation.finish() }) else {
                continuation.finish()
                return
            }
            continuation.onTermination = { _ in
                core.removeFinisher(key)
                // off() waits for a running listener; never block the thread that ends the stream.
                DispatchQueue.global().async { try? core.off(id) }
            }
        }
    }
}
