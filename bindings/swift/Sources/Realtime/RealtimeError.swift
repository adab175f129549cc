import CRealtime

/// A status code of the C library (`realtime_status`). The values never change between versions.
public struct RealtimeStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    init(_ status: realtime_status) { self.rawValue = UInt32(status.rawValue) }

    public static let ok = RealtimeStatus(REALTIME_STATUS_OK)
    public static let invalidArgument = RealtimeStatus(REALTIME_STATUS_INVALID_ARGUMENT)
    public static let invalidURL = RealtimeStatus(REALTIME_STATUS_INVALID_URL)
    public static let invalidOptions = RealtimeStatus(REALTIME_STATUS_INVALID_OPTIONS)
    public static let unknownOption = RealtimeStatus(REALTIME_STATUS_UNKNOWN_OPTION)
    public static let invalidHandle = RealtimeStatus(REALTIME_STATUS_INVALID_HANDLE)
    public static let unknownListener = RealtimeStatus(REALTIME_STATUS_UNKNOWN_LISTENER)
    public static let reservedEvent = RealtimeStatus(REALTIME_STATUS_RESERVED_EVENT)
    public static let bufferFull = RealtimeStatus(REALTIME_STATUS_BUFFER_FULL)
    public static let payloadTooLarge = RealtimeStatus(REALTIME_STATUS_PAYLOAD_TOO_LARGE)
    public static let unknownAck = RealtimeStatus(REALTIME_STATUS_UNKNOWN_ACK)
    public static let namespaceInUse = RealtimeStatus(REALTIME_STATUS_NAMESPACE_IN_USE)
    public static let `internal` = RealtimeStatus(REALTIME_STATUS_INTERNAL)

    /// The library's short description ("ok", "invalid argument", ...).
    public var description: String {
        String(cString: realtime_status_str(realtime_status(rawValue: numericCast(rawValue))))
    }
}

/// Every error thrown by the wrapper.
public enum RealtimeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A call failed synchronously: the library's status and its `realtime_last_error()` message
    /// (e.g. `.unknownOption` with "unknown option `foo`").
    case status(RealtimeStatus, message: String)
    /// `close()` was called: the client cannot be used any more.
    case closed
    /// An ack did not arrive in time ("operation has timed out").
    case ackTimeout
    /// The connection dropped before the ack arrived ("socket has been disconnected").
    case disconnected
    /// An asynchronous request failed for another reason (the library's message).
    case failed(String)
    /// `ack()` was called a second time for the same server request.
    case alreadyAcknowledged
    /// `ack()` was called on an event the server did not ask an ack for.
    case noAckRequested
    /// Text that should be JSON is not (what, where).
    case invalidJSON(String)

    public var description: String {
        switch self {
        case .status(let status, let message): return "realtime: \(status) (\(status.rawValue)): \(message)"
        case .closed: return "realtime: the client is closed"
        case .ackTimeout: return "realtime: operation has timed out"
        case .disconnected: return "realtime: socket has been disconnected"
        case .failed(let message): return "realtime: \(message)"
        case .alreadyAcknowledged: return "realtime: the ack was answered already"
        case .noAckRequested: return "realtime: the server did not ask for an ack"
        case .invalidJSON(let what): return "realtime: invalid JSON: \(what)"
        }
    }

    /// The error of an asynchronous failure message from the library.
    static func async(_ message: String) -> RealtimeError {
        switch message {
        case "operation has timed out": return .ackTimeout
        case "socket has been disconnected": return .disconnected
        default: return .failed(message)
        }
    }

    /// This thread's last failure from the library, with `status`.
    static func last(_ status: RealtimeStatus) -> RealtimeError {
        .status(status, message: String(cString: realtime_last_error()))
    }
}
