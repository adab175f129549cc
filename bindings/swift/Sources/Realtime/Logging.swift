import CRealtime
import Foundation

#if canImport(os)
import os
#endif

/// The severity of a library log record (`realtime_log_level`), most severe first: a handler set with
/// a minimum level gets the records of that level and every more severe one (`record.level <= minLevel`).
public enum LogLevel: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    /// The client cannot do what it was asked (a bound dropped data, a callback panicked).
    case error = 1
    /// A connection attempt failed, TLS refused a certificate, an emit was refused by a bound, the
    /// client gave up reconnecting, a namespace was refused.
    case warn = 2
    /// State changes: connecting (URL, attempt), connected (transport, heartbeat), disconnected
    /// (reason), reconnect scheduled (delay), upgrades, namespaces connected.
    case info = 3
    /// Handshake details, backpressure pauses, volatile emits dropped.
    case debug = 4
    /// Every packet in and out (type, namespace, size; never its arguments).
    case trace = 5

    /// More severe first: `.error < .warn < .info < .debug < .trace`.
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .error: return "error"
        case .warn: return "warn"
        case .info: return "info"
        case .debug: return "debug"
        case .trace: return "trace"
        }
    }

    var cLevel: realtime_log_level { realtime_log_level(rawValue: numericCast(rawValue)) }

    init(_ level: realtime_log_level) {
        // The library only hands out 1...5; anything else (a newer library) as the least severe.
        self = LogLevel(rawValue: Int(level.rawValue)) ?? .trace
    }

    #if canImport(os)
    /// The `os.Logger` level of this level: `.error`, `.default` (notice), `.info`, `.debug`
    /// (`.trace` too).
    public var osLogType: OSLogType {
        switch self {
        case .error: return .error
        case .warn: return .default
        case .info: return .info
        case .debug, .trace: return .debug
        }
    }
    #endif
}

/// One log record of the library. Its text is already redacted: no auth payload, header value, URL
/// user-info, query value or secret-named JSON member appears in it (they become `[redacted]`).
public struct LogRecord: Hashable, Sendable, CustomStringConvertible {
    public let level: LogLevel
    /// The part of the library that made the record (`realtime::client::manager`, ...).
    public let target: String
    /// One line of text, without a trailing newline.
    public let message: String

    public init(level: LogLevel, target: String, message: String) {
        self.level = level
        self.target = target
        self.message = message
    }

    public var description: String { "[\(level)] \(target): \(message)" }
}

/// The handler the library holds as user_data (one reference retained for the library).
final class LogHandlerBox: Sendable {
    let handler: @Sendable (LogRecord) -> Void
    init(_ handler: @escaping @Sendable (LogRecord) -> Void) { self.handler = handler }
}

/// The process-wide handler box. `lock` is held across realtime_set_log_handler, so the box recorded
/// here is always the one the library holds; the replaced box is released only after the call that
/// replaced it returned (then the library never calls it again and no call of it is running). The
/// trampoline never takes `lock`.
final class LogHandlerSlot: @unchecked Sendable {
    static let shared = LogHandlerSlot()
    private let lock = NSLock()
    private var box: Unmanaged<LogHandlerBox>?

    @discardableResult
    func set(minLevel: LogLevel, _ handler: (@Sendable (LogRecord) -> Void)?) -> RealtimeStatus {
        lock.lock()
        let new = handler.map { Unmanaged.passRetained(LogHandlerBox($0)) }
        let status = RealtimeStatus(
            realtime_set_log_handler(minLevel.cLevel, new == nil ? nil : logTrampoline, new?.toOpaque()))
        let old: Unmanaged<LogHandlerBox>?
        if status == .ok {
            old = box
            box = new
        } else {
            old = new  // not expected (the level is in range): the library kept the previous handler
        }
        lock.unlock()
        old?.release()
        return status
    }

    /// Whether a handler is set (for tests).
    var isSet: Bool {
        lock.lock(); defer { lock.unlock() }
        return box != nil
    }
}

let logTrampoline: realtime_log_fn = { ud, level, target, message in
    let box = Unmanaged<LogHandlerBox>.fromOpaque(ud!).takeUnretainedValue()
    let record = LogRecord(level: LogLevel(level), target: string(target) ?? "", message: string(message) ?? "")
    // Alive for the whole call even if the handler replaces itself (setLogHandler releases it then).
    withExtendedLifetime(box) { box.handler(record) }
}

extension RealtimeClient {
    /// Sends the library's log records of `minLevel` and more severe to `handler`, for the whole
    /// process (every client); nil turns logging off (the default). A second call replaces the handler.
    ///
    /// - `handler` runs synchronously on the thread that made the record (an IO thread, a callback
    ///   thread, or the thread of a call into the client): return quickly and do not block — hand the
    ///   record to your own queue or logger. It may call the client; records made inside it are dropped.
    /// - When this returns, the previous handler is not running and never runs again, and it has been
    ///   released (with whatever it captured).
    /// - A handler may replace or remove itself, but do not call this from inside a log handler while
    ///   another thread may call it too: that call waits for the running handler, which waits for it.
    ///
    ///     RealtimeClient.setLogHandler(minLevel: .info) { record in print(record) }
    public static func setLogHandler(minLevel: LogLevel = .info, _ handler: (@Sendable (LogRecord) -> Void)?) {
        LogHandlerSlot.shared.set(minLevel: minLevel, handler)
    }

    #if canImport(os)
    /// Forwards the library's records of `minLevel` and more severe to an `os.Logger(subsystem:category:)`
    /// (the unified log: Console.app, `log stream`), error → `.error`, warn → `.default` (notice), info →
    /// `.info`, debug and trace → `.debug`. Records are redacted by the library, so their text is logged
    /// as public. Replaces any handler set with `setLogHandler`; `setLogHandler(nil)` stops it.
    /// Apple platforms only (where `os` is importable).
    @available(macOS 11.0, iOS 14.0, tvOS 14.0, watchOS 7.0, *)
    public static func logToOSLog(subsystem: String, category: String = "realtime", minLevel: LogLevel = .info) {
        let sink = OSLogSink(Logger(subsystem: subsystem, category: category))
        setLogHandler(minLevel: minLevel) { record in sink.log(record) }
    }
    #endif
}

#if canImport(os)
/// The logger of logToOSLog (os.Logger is thread-safe).
@available(macOS 11.0, iOS 14.0, tvOS 14.0, watchOS 7.0, *)
private final class OSLogSink: @unchecked Sendable {
    let logger: Logger
    init(_ logger: Logger) { self.logger = logger }
    func log(_ record: LogRecord) {
        logger.log(level: record.level.osLogType, "\(record.target, privacy: .public): \(record.message, privacy: .public)")
    }
}
#endif
