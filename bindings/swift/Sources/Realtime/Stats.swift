import CRealtime
import Foundation

/// A snapshot of a client's live counters (`realtime_stats_json`, version 1), from
/// `RealtimeClient.stats()`. Cheap enough to take for every frame of a UI (no I/O).
///
/// The connection counters (packets, frames, bytes) cover the connection, every namespace on it;
/// bytes are WebSocket payload bytes. Later versions may add members (ignored here), never remove one.
public struct RealtimeStats: Decodable, Hashable, Sendable {
    /// The format's version (1).
    public let version: Int
    /// The connection's state: "idle", "connecting", "connected" or "waiting" (the backoff delay
    /// before a reconnection attempt).
    public let state: String
    /// Whether this client's namespace is joined.
    public let connected: Bool
    /// This client's namespace ("/", "/admin", ...).
    public let namespace: String
    /// Milliseconds in the current state.
    public let msInState: UInt64
    /// Milliseconds spent in each state (keyed like `state`), the current stretch included.
    public let msInEachState: [String: UInt64]
    /// Successful connections (the first one and every reconnection).
    public let connects: UInt64
    public let reconnects: UInt64
    public let failedAttempts: UInt64
    /// socket.io-client's reason of the last disconnect ("io client disconnect", "transport close",
    /// ...), nil before the first one.
    public let lastDisconnectReason: String?
    /// "websocket" or "polling" while a connection is open, else nil.
    public let transport: String?
    public let packetsIn: UInt64
    public let framesIn: UInt64
    public let bytesIn: UInt64
    public let packetsOut: UInt64
    public let bytesOut: UInt64
    /// Emits accepted by this client.
    public let emits: UInt64
    /// Emits waiting offline or in the retry queue.
    public let emitsBuffered: UInt64
    /// Bytes sent but not yet taken by the OS.
    public let bytesQueuedForSocket: UInt64
    /// Events received and not yet handed to the callbacks.
    public let eventsWaitingForCallbacks: UInt64
    public let bytesWaitingForCallbacks: UInt64
    /// Emits waiting for their ack.
    public let pendingAcks: UInt64
    public let acksAnswered: UInt64
    /// The latest emit-with-ack round trip (µs), nil before the first answer.
    public let lastAckRoundTripUs: UInt64?
    /// Always nil with Engine.IO 4 (the server pings).
    public let lastPingRoundTripUs: UInt64?
    /// The listeners registered in the library for this client (the wrapper's own included).
    public let listeners: UInt64
}

extension RealtimeClient {
    /// A snapshot of the client's live counters. Throws `.closed` after `close()`.
    public func stats() throws -> RealtimeStats {
        let data = try statsJSON()
        do {
            return try JSONDecoder().decode(RealtimeStats.self, from: data)
        } catch {
            throw RealtimeError.invalidJSON("realtime_stats_json: \(error)")
        }
    }

    /// The text of realtime_stats_json (without the NUL): a stack buffer first, then, if the object did
    /// not fit, a heap buffer of the length the library asked for (again if it grew meanwhile).
    func statsJSON() throws -> Data {
        let h = try core.current()
        var capacity = 2048
        var attempt = withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buf in
            Self.copyStats(h, buf)
        }
        while true {
            switch attempt {
            case .text(let data):
                return data
            case .needs(let length):
                capacity = length + 1
            case .failed:
                if core.isClosed { throw RealtimeError.closed }
                let status = RealtimeStatus(realtime_last_error_status())
                throw RealtimeError.last(status == .ok ? .invalidHandle : status)
            }
            var heap = [CChar](repeating: 0, count: capacity)
            attempt = heap.withUnsafeMutableBufferPointer { Self.copyStats(h, $0) }
        }
    }

    private enum StatsAttempt {
        case text(Data)
        case needs(Int)
        case failed
    }

    private static func copyStats(_ h: OpaquePointer, _ buf: UnsafeMutableBufferPointer<CChar>) -> StatsAttempt {
        let n = realtime_stats_json(h, buf.baseAddress, buf.count)
        if n == 0 { return .failed }  // a freed client (the text is never empty)
        if n >= buf.count { return .needs(n) }
        return .text(Data(bytes: buf.baseAddress!, count: n))
    }
}
