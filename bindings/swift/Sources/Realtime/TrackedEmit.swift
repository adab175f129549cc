import CRealtime
import Foundation

/// The fate of a tracked emit (`realtime_message_status`), as `RealtimeClient.emitTracked` reports it:
/// `.queued` / `.sent` (possibly again: a message sent but not acknowledged when the connection drops
/// is queued and sent again, so delivery is at least once), then exactly one final status.
public enum MessageStatus: Hashable, Sendable {
    /// Waiting offline for the connection (again after a lost connection: it will be resent).
    case queued
    /// Handed to the connection.
    case sent
    /// Final: the server acknowledged it, with these arguments.
    case acked([JSONValue])
    /// Final: its time to live passed before it could be sent; it never was.
    case expired
    /// Final: sent but not acknowledged within its time to live, or the socket was disconnected
    /// (`disconnect()`) after it was sent; `reason` is the library's message, e.g. "socket has been
    /// disconnected".
    case failed(reason: String)

    /// Whether this is the last status of its message (`.acked`, `.expired` or `.failed`).
    public var isFinal: Bool {
        switch self {
        case .queued, .sent: return false
        case .acked, .expired, .failed: return true
        }
    }

    /// nil for a status this wrapper does not know (a newer library); it is ignored, never final.
    init?(_ status: realtime_message_status, detail: String) {
        switch status {
        case REALTIME_MESSAGE_STATUS_QUEUED: self = .queued
        case REALTIME_MESSAGE_STATUS_SENT: self = .sent
        case REALTIME_MESSAGE_STATUS_ACKED: self = .acked(parseJSON(detail).arrayValue ?? [])
        case REALTIME_MESSAGE_STATUS_EXPIRED: self = .expired
        case REALTIME_MESSAGE_STATUS_FAILED: self = .failed(reason: detail)
        default: return nil
        }
    }
}

/// The user_data of one tracked emit: a one-shot box (see Core.swift), registered in `pending` until its
/// final status (the trampoline takes it) or close() (the library then ends tracking without a final
/// status: `end` runs instead).
final class TrackedEmitBox: PendingBox, @unchecked Sendable {
    let core: Core
    /// Called on the library's callback thread, in order; the final status last.
    let report: @Sendable (MessageStatus) -> Void
    /// Called once by close() when no final status came.
    let end: @Sendable () -> Void

    init(core: Core, report: @escaping @Sendable (MessageStatus) -> Void, end: @escaping @Sendable () -> Void) {
        self.core = core
        self.report = report
        self.end = end
    }

    override func fail(_ error: Error) { end() }
}

let messageStatusTrampoline: realtime_message_status_fn = { ud, status, detail in
    let box = Unmanaged<TrackedEmitBox>.fromOpaque(ud!).takeUnretainedValue()
    guard let value = MessageStatus(status, detail: string(detail) ?? "") else { return }
    if value.isFinal {
        // The library's last call with this user_data: release the box after it.
        let owned = box.core.takePending(ud!)
        box.report(value)
        owned?.release()
    } else {
        box.report(value)
    }
}

extension RealtimeClient {
    /// Emits `event` and reports its fate (`realtime_emit_tracked`): `.queued` while offline, `.sent`
    /// (each possibly again after a reconnect), then exactly one final status — `.acked(args)` with the
    /// server's answer, `.expired` (not sent within `ttl`: it never will be) or `.failed(reason:)` (sent,
    /// not acknowledged within `ttl`, or `disconnect()` after it was sent). The server must acknowledge
    /// the event (its handler calls the ack function). `ttl` in seconds; nil: no time to live (it waits
    /// for the connection and the ack as long as the client lives). Counts in maxBufferedEmits while
    /// offline.
    ///
    /// The stream yields the statuses in order (on the library's thread, not on `queue`) and ends after
    /// the final one, or at `close()` without a final status. Throws synchronously like `emit`
    /// (`.closed`, a reserved name, a full buffer), and `.status(.invalidArgument, …)` for binary data
    /// (tracked emits are plain JSON).
    ///
    ///     for await status in try client.emitTracked("chat", ["text": "hi"], ttl: 30) { print(status) }
    public func emitTracked(_ event: String, _ args: JSONValue..., ttl: TimeInterval? = nil) throws -> AsyncStream<MessageStatus> {
        try emitTracked(event, args: args, ttl: ttl)
    }

    /// `emitTracked(_:_:ttl:)` with an array of arguments.
    public func emitTracked(_ event: String, args: [JSONValue], ttl: TimeInterval? = nil) throws -> AsyncStream<MessageStatus> {
        let (stream, continuation) = AsyncStream.makeStream(of: MessageStatus.self)
        try startTracked(event, args, ttl, report: { status in
            continuation.yield(status)
            if status.isFinal { continuation.finish() }
        }, end: { continuation.finish() })
        return stream
    }

    /// `emitTracked` with a handler: `onStatus` runs on `queue` for each status, in order, the final one
    /// last; it is released after the final status, or by `close()` (after which it does not run, as
    /// any handler).
    public func emitTracked(_ event: String, _ args: JSONValue..., ttl: TimeInterval? = nil,
                            onStatus: @escaping @Sendable (MessageStatus) -> Void) throws {
        try emitTracked(event, args: args, ttl: ttl, onStatus: onStatus)
    }

    /// `emitTracked(_:_:ttl:onStatus:)` with an array of arguments.
    public func emitTracked(_ event: String, args: [JSONValue], ttl: TimeInterval? = nil,
                            onStatus: @escaping @Sendable (MessageStatus) -> Void) throws {
        let core = self.core
        try startTracked(event, args, ttl, report: { status in
            core.queue.async { if !core.isClosed { onStatus(status) } }
        }, end: {})
    }

    private func startTracked(_ event: String, _ args: [JSONValue], _ ttl: TimeInterval?,
                              report: @escaping @Sendable (MessageStatus) -> Void,
                              end: @escaping @Sendable () -> Void) throws {
        var buffers: [Data] = []
        let json = JSONValue.array(args).encoded(buffers: &buffers)
        guard buffers.isEmpty else {
            throw RealtimeError.status(.invalidArgument, message: "emitTracked does not send binary data")
        }
        let ms: UInt32 = ttl.map(milliseconds) ?? 0
        let box = TrackedEmitBox(core: core, report: report, end: end)
        try core.startPending(box) { h, ud in realtime_emit_tracked(h, event, json, ms, messageStatusTrampoline, ud) }
    }
}
