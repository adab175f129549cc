import Foundation
import XCTest

@testable import Realtime

/// A value shared between handlers (on the client's queue) and the test thread.
final class Locked<T>: @unchecked Sendable {
    private var v: T
    private let lock = NSLock()
    init(_ v: T) { self.v = v }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return v }
        set { lock.lock(); v = newValue; lock.unlock() }
    }
    func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&v); lock.unlock() }
}

/// Asserts that `body` throws `expected` (usable inside non-throwing handlers).
func assertThrows(_ expected: RealtimeError, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected \(expected), nothing thrown", file: file, line: line)
    } catch {
        XCTAssertEqual(error as? RealtimeError, expected, file: file, line: line)
    }
}

/// Asserts that `body` does not throw (usable inside non-throwing handlers).
func assertNoThrow(file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do { try body() } catch { XCTFail("unexpected \(error)", file: file, line: line) }
}

/// Tests against the bundled socket.io server: run through
/// `node tests/server/with-server.js -- scripts/swift-env.sh run bindings/swift swift test --disable-swift-testing`
/// (REALTIME_TEST_URL is the server's URL). Tests that need no server run without it.
final class RealtimeTests: XCTestCase {
    /// Short reconnection delays (the defaults are 1 s to 5 s).
    static let fast: [String: JSONValue] = ["reconnectionDelay": 100, "reconnectionDelayMax": 300]

    func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["REALTIME_TEST_URL"], !url.isEmpty else {
            throw XCTSkip("REALTIME_TEST_URL is not set: run through tests/server/with-server.js")
        }
        return url
    }

    /// A client closed at the end of the test.
    func makeClient(_ options: [String: JSONValue] = fast, path: String = "", queue: DispatchQueue? = nil) throws -> RealtimeClient {
        let client = try RealtimeClient(url: try serverURL() + path, options: options, queue: queue)
        addTeardownBlock { client.close() }
        return client
    }

    /// A client connected (waits for its first onConnect).
    func connectedClient(_ options: [String: JSONValue] = fast) throws -> RealtimeClient {
        let client = try makeClient(options)
        let connected = expectation(description: "connected")
        let id = try client.onConnect { connected.fulfill() }
        wait(for: [connected], timeout: 10)
        try client.off(id)
        XCTAssertTrue(client.isConnected)
        return client
    }

    /// Runs async code from a synchronous test, failing the test with whatever it throws.
    func runAsync(timeout: TimeInterval = 15, file: StaticString = #filePath, line: UInt = #line,
                  _ body: @escaping @Sendable () async throws -> Void) {
        let done = expectation(description: "async body")
        let failure = Locked<Error?>(nil)
        Task {
            do { try await body() } catch { failure.value = error }
            done.fulfill()
        }
        wait(for: [done], timeout: timeout)
        if let error = failure.value { XCTFail("\(error)", file: file, line: line) }
    }

    // MARK: - Connection

    func testConnectAndSocketId() throws {
        let queue = DispatchQueue(label: "app.queue")
        let client = try makeClient(queue: queue)
        let connected = expectation(description: "connected")
        let onQueue = Locked(false)
        try client.onConnect {
            onQueue.value = DispatchQueue.getSpecific(key: RealtimeTests.queueKey) == "app"
            connected.fulfill()
        }
        queue.setSpecific(key: RealtimeTests.queueKey, value: "app")
        wait(for: [connected], timeout: 10)
        XCTAssertTrue(onQueue.value, "handlers run on the queue given to init")
        XCTAssertTrue(client.isConnected)
        let id = try XCTUnwrap(client.socketId)
        XCTAssertFalse(id.isEmpty)
        XCTAssertEqual(client.socketId, id, "the id is stable while connected")
        XCTAssertFalse(client.isRecovered)
        XCTAssertFalse(RealtimeClient.libraryVersion.isEmpty)
    }

    nonisolated(unsafe) static let queueKey = DispatchSpecificKey<String>()

    func testDisconnectAndOpen() throws {
        let client = try connectedClient()
        let first = try XCTUnwrap(client.socketId)

        let disconnected = expectation(description: "disconnected")
        let reason = Locked("")
        try client.onDisconnect { reason.value = $0; disconnected.fulfill() }
        try client.disconnect()
        XCTAssertFalse(client.isConnected, "false as soon as disconnect() returns")
        XCTAssertNil(client.socketId)
        wait(for: [disconnected], timeout: 5)
        XCTAssertEqual(reason.value, "io client disconnect")
        try client.disconnect()  // idempotent

        let reconnected = expectation(description: "connected again")
        try client.onConnect { reconnected.fulfill() }
        try client.open()
        wait(for: [reconnected], timeout: 10)
        let second = try XCTUnwrap(client.socketId)
        XCTAssertNotEqual(first, second, "a new connection has a new id")
    }

    func testReconnectionAfterServerRestart() throws {
        let client = try connectedClient()
        let events = Locked<[LifecycleEvent]>([])
        let stream = client.lifecycle  // registered at once
        let done = expectation(description: "reconnected")
        let consumer = Task {
            for await event in stream {
                events.mutate { $0.append(event) }
                if event == .connect { done.fulfill(); break }
            }
        }
        try client.emit("test:restart", ["downMs": 800])
        wait(for: [done], timeout: 20)
        consumer.cancel()

        // Connection errors of the failed attempts may come in between; the rest is exact.
        let seen = events.value.filter { if case .error = $0 { return false } else { return true } }
        XCTAssertEqual(seen.first, .disconnect(reason: "transport close"), "\(events.value)")
        let attempts = seen.compactMap { if case .reconnectAttempt(let n) = $0 { return n } else { return nil } }
        XCTAssertGreaterThanOrEqual(attempts.count, 2, "the port refuses for 800 ms: \(events.value)")
        XCTAssertEqual(attempts, Array(1...max(1, attempts.count)), "numbered from 1")
        XCTAssertEqual(seen.suffix(2), [.reconnect(attempts: attempts.count), .connect], "\(events.value)")
        XCTAssertTrue(client.isConnected)
        XCTAssertNotNil(client.socketId)
    }

    func testRefusalWithData() throws {
        var options = Self.fast
        options["auth"] = ["refuse": true]
        let client = try makeClient(options)
        let refused = expectation(description: "refused")
        let got = Locked<(String, JSONValue)?>(nil)
        try client.onError { message, data in
            got.value = (message, data)
            refused.fulfill()
        }
        try client.onConnect { XCTFail("a refused client does not connect") }
        wait(for: [refused], timeout: 10)
        let (message, data) = try XCTUnwrap(got.value)
        XCTAssertEqual(message, "not authorized")
        XCTAssertEqual(data["hint"], "send token")
        XCTAssertEqual(data["code"], 42)
        XCTAssertEqual(data, ["hint": "send token", "code": 42])
        XCTAssertFalse(client.isConnected)
    }

    func testReconnectNow() throws {
        let client = try connectedClient()
        let first = try XCTUnwrap(client.socketId)
        let events = Locked<[LifecycleEvent]>([])
        let stream = client.lifecycle
        let done = expectation(description: "connected again")
        let consumer = Task {
            for await event in stream {
                events.mutate { $0.append(event) }
                if event == .connect { done.fulfill(); break }
            }
        }
        try client.reconnectNow()
        wait(for: [done], timeout: 10)
        consumer.cancel()
        XCTAssertEqual(events.value.first, .disconnect(reason: "transport close"), "\(events.value)")
        XCTAssertNotEqual(client.socketId, first)
    }

    func testNamespaceOnTheSameConnection() throws {
        let client = try connectedClient()
        let admin = try client.namespace("/admin", options: ["auth": ["role": "admin"]])
        addTeardownBlock { admin.close() }
        let connected = expectation(description: "admin connected")
        try admin.onConnect { connected.fulfill() }
        wait(for: [connected], timeout: 10)
        XCTAssertNotEqual(admin.socketId, client.socketId)
        XCTAssertThrowsError(try client.namespace("/admin")) { error in
            guard case .status(let status, _)? = error as? RealtimeError else { return XCTFail("\(error)") }
            XCTAssertEqual(status, .namespaceInUse)
        }
        runAsync {
            let answer = try await admin.emitWithAck("echo", "from admin", timeout: 5)
            XCTAssertEqual(answer, ["from admin"])
        }
        admin.close()
        XCTAssertTrue(client.isConnected, "closing one namespace leaves the other connected")
    }

    // MARK: - Events and acks

    func testOnAnyAndOffAny() throws {
        let client = try connectedClient()
        let order = Locked<[String]>([])
        let got = expectation(description: "named handler")
        try client.onAny { event in order.mutate { $0.append("any:\(event.name)") } }
        let named = try client.on("echo") { _ in order.mutate { $0.append("named") }; got.fulfill() }
        try client.emit("echo", 1)
        wait(for: [got], timeout: 5)
        XCTAssertEqual(order.value, ["any:echo", "named"], "catch-all handlers run first")
        try client.off(named)
        try client.offAny()
        let again = expectation(description: "named handler again")
        try client.once("echo") { _ in again.fulfill() }
        try client.emit("echo", 2)
        wait(for: [again], timeout: 5)
        XCTAssertEqual(order.value.filter { $0.hasPrefix("any") }.count, 1, "offAny removed the catch-all handler")
    }

    func testEmitWithAckAndEvents() throws {
        let client = try connectedClient()
        let args: [JSONValue] = ["a", 1, 2.5, ["k": true, "n": nil, "list": [1, "x"]], "ünïcødé \"q\" \n"]
        let received = expectation(description: "echo event")
        let echoed = Locked<[JSONValue]>([])
        try client.on("echo") { event in
            XCTAssertEqual(event.name, "echo")
            XCTAssertFalse(event.expectsAck)
            echoed.value = event.args
            received.fulfill()
        }
        runAsync {
            let answer = try await client.emitWithAck("echo", args: args, timeout: 5)
            XCTAssertEqual(answer, args)
        }
        wait(for: [received], timeout: 5)
        XCTAssertEqual(echoed.value, args)
    }

    func testBinaryBothWays() throws {
        let client = try connectedClient()
        let bytes = Data([0, 1, 2, 0xFF, 0x89, 0x50])
        let received = expectation(description: "binary echo")
        let event = Locked<RealtimeEvent?>(nil)
        try client.on("echo") { event.value = $0; received.fulfill() }
        runAsync {
            let answer = try await client.emitWithAck("echo", "file", ["bytes": .binary(bytes)], binary: Data([7]), timeout: 5)
            XCTAssertEqual(answer, ["file", ["bytes": .binary(bytes)], .binary(Data([7]))])
        }
        wait(for: [received], timeout: 5)
        let e = try XCTUnwrap(event.value)
        XCTAssertEqual(e.buffers, [bytes, Data([7])])
        XCTAssertEqual(e.args[1]["bytes"]?.dataValue, bytes)
    }

    func testServerAsksForAck() throws {
        let client = try connectedClient()
        let asked = expectation(description: "question")
        let answered = expectation(description: "test:answer")
        let question = Locked<[JSONValue]>([])
        let answer = Locked<JSONValue>(.null)
        try client.on("question") { event in
            question.value = event.args
            XCTAssertTrue(event.expectsAck)
            assertNoThrow { try event.ack("answer", 7, ["ok": true]) }
            assertThrows(.alreadyAcknowledged) { try event.ack("again") }
            asked.fulfill()
        }
        try client.on("test:answer") { event in
            answer.value = event.args.first ?? .null
            answered.fulfill()
        }
        try client.emit("test:ask", ["event": "question", "args": [1, "two"], "timeoutMs": 3000])
        wait(for: [asked, answered], timeout: 10, enforceOrder: true)
        XCTAssertEqual(question.value, [1, "two"])
        XCTAssertEqual(answer.value, ["error": nil, "args": ["answer", 7, ["ok": true]]])
    }

    func testAckErrors() throws {
        let client = try connectedClient()
        // No ack requested.
        let got = expectation(description: "echo")
        try client.once("echo") { event in
            assertThrows(.noAckRequested) { try event.ack() }
            got.fulfill()
        }
        try client.emit("echo", 1)
        wait(for: [got], timeout: 5)
        // The server never answers "nothing-answers-this": timeout.
        runAsync {
            do {
                _ = try await client.emitWithAck("nothing-answers-this", timeout: 0.2)
                XCTFail("expected a timeout")
            } catch let error as RealtimeError {
                XCTAssertEqual(error, .ackTimeout)
            }
        }
        // The connection drops while the ack is awaited: .disconnected. The server's "test:drop" closes the
        // transport when it receives the event, so the request is on the wire when the connection goes.
        runAsync {
            do {
                _ = try await client.emitWithAck("test:drop")
                XCTFail("expected .disconnected")
            } catch let error as RealtimeError {
                XCTAssertEqual(error, .disconnected)
            }
        }
        // Reserved names fail synchronously with the library's status and message.
        XCTAssertThrowsError(try client.emit("disconnect")) { error in
            guard case .status(let status, let message)? = error as? RealtimeError else { return XCTFail("\(error)") }
            XCTAssertEqual(status, .reservedEvent)
            XCTAssertTrue(message.contains("reserved"), message)
        }
    }

    // MARK: - Channels

    func testChannelJoinAndSend() throws {
        var options = Self.fast
        options["echoMessages"] = true
        let client = try connectedClient(options)
        let id = try XCTUnwrap(client.socketId)
        let got = expectation(description: "channel message")
        let message = Locked<ChannelEvent?>(nil)
        try client.onMessage("chat") { message.value = $0; got.fulfill() }
        try client.join("room")
        try client.send(channel: "room", event: "chat", message: ["text": "hi", "n": 1])
        wait(for: [got], timeout: 5)
        let m = try XCTUnwrap(message.value)
        XCTAssertEqual(m.channel, "room")
        XCTAssertNil(m.memberId) // Agnost's messages carry no sender id: the message is delivered whole
        XCTAssertEqual(m.data, ["text": "hi", "n": 1])

        runAsync {
            try client.updateProfile(["name": "swift"])
            let members = try await client.members(channel: "room")
            XCTAssertEqual(members, [Member(id: id, data: ["name": "swift"])])
            try client.leave("room")
            let after = try await client.members(channel: "room")
            XCTAssertEqual(after, [])
        }
    }

    // MARK: - Lifetime

    func testCloseInsideCallback() throws {
        let client = try makeClient()
        let closed = expectation(description: "closed in onConnect")
        try client.onConnect { [unowned client] in
            client.close()
            client.close()  // idempotent
            XCTAssertTrue(client.isClosed)
            XCTAssertFalse(client.isConnected)
            XCTAssertNil(client.socketId)
            for call in [{ try client.emit("x") }, { try client.open() }, { try client.disconnect() },
                         { try client.join("room") }, { _ = try client.on("x") { _ in } }] as [() throws -> Void] {
                assertThrows(.closed, call)
            }
            closed.fulfill()
        }
        try client.onDisconnect { _ in XCTFail("no handler runs after close()") }
        wait(for: [closed], timeout: 10)
        XCTAssertThrowsError(try client.emit("x")) { XCTAssertEqual($0 as? RealtimeError, .closed) }
        XCTAssertThrowsError(try client.off(ListenerID(rawValue: 1))) { XCTAssertEqual($0 as? RealtimeError, .closed) }
        runAsync {
            do {
                _ = try await client.emitWithAck("echo")
                XCTFail("expected .closed")
            } catch let error as RealtimeError {
                XCTAssertEqual(error, .closed)
            }
        }
    }

    func testCloseFailsPendingAckAndEndsLifecycle() throws {
        let client = try RealtimeClient(url: "http://127.0.0.1:9/", options: ["autoConnect": false])
        let stream = client.lifecycle
        let ended = expectation(description: "lifecycle ended")
        Task {
            for await _ in stream {}
            ended.fulfill()
        }
        runAsync {
            // Offline: buffered with its ack; close() fails it.
            async let answer = client.emitWithAck("echo", 1)
            while client.core.pendingCount == 0 { await Task.yield() }  // the emit is registered
            client.close()
            do {
                _ = try await answer
                XCTFail("expected .closed")
            } catch let error as RealtimeError {
                XCTAssertEqual(error, .closed)
            }
            XCTAssertEqual(client.core.pendingCount, 0, "the pending ack box was released")
        }
        wait(for: [ended], timeout: 5)
    }

    /// Calls from many threads racing with close(): each succeeds or throws .closed; nothing crashes.
    func testConcurrentUseRacingWithClose() throws {
        for round in 0..<20 {
            let client = try makeClient()
            let unexpected = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { worker in
                for i in 0..<50 {
                    if worker == 0 && i == 10 + round { client.close() }
                    do {
                        switch (worker + i) % 5 {
                        case 0: try client.emit("echo", .int(i))
                        case 1: try client.off(try client.on("x") { _ in })
                        case 2: _ = (client.isConnected, client.socketId)
                        case 3: try client.onMessage("m") { _ in }
                        default: try client.join("room-\(worker)")
                        }
                    } catch RealtimeError.closed {
                    } catch {
                        unexpected.mutate { $0.append("\(error)") }
                    }
                }
            }
            XCTAssertTrue(client.isClosed)
            XCTAssertEqual(unexpected.value, [])
        }
    }

    func testOffAndUnknownListener() throws {
        let client = try RealtimeClient(url: "http://127.0.0.1:9/", options: ["autoConnect": false])
        defer { client.close() }
        let id = try client.on("x") { _ in }
        try client.off(id)
        XCTAssertThrowsError(try client.off(id)) { error in
            guard case .status(let status, _)? = error as? RealtimeError else { return XCTFail("\(error)") }
            XCTAssertEqual(status, .unknownListener)
        }
    }

    func testCreationErrors() {
        func status(_ url: String, _ options: [String: JSONValue]) -> (RealtimeStatus, String)? {
            do {
                let c = try RealtimeClient(url: url, options: options)
                c.close()
                return nil
            } catch RealtimeError.status(let s, let message) {
                return (s, message)
            } catch {
                XCTFail("\(error)")
                return nil
            }
        }
        let unknown = status("http://127.0.0.1:9/", ["autoConnect": false, "noSuchOption": 1])
        XCTAssertEqual(unknown?.0, .unknownOption)
        XCTAssertTrue(unknown?.1.contains("noSuchOption") ?? false, "\(String(describing: unknown))")
        let wrongType = status("http://127.0.0.1:9/", ["autoConnect": false, "reconnectionDelay": "soon"])
        XCTAssertEqual(wrongType?.0, .invalidOptions, "\(String(describing: wrongType))")
        XCTAssertTrue(wrongType?.1.contains("reconnectionDelay") ?? false, "\(String(describing: wrongType))")
        let badURL = status("ftp://example.com/", [:])
        XCTAssertEqual(badURL?.0, .invalidURL, "\(String(describing: badURL))")
    }

    /// 1,000 create/connect/close cycles (after 100 of warm-up) with bounded resident memory. Connected
    /// when the server runs (about 1 ms a cycle), offline otherwise. Even cycles call close(), odd ones
    /// leave the client to deinit.
    func testCreateCloseCyclesHaveBoundedMemory() throws {
        let serverURL = ProcessInfo.processInfo.environment["REALTIME_TEST_URL"]
        func cycle(_ i: Int) throws {
            let client = try RealtimeClient(url: serverURL ?? "http://127.0.0.1:9",
                                            options: ["autoConnect": .bool(serverURL != nil)])
            let connected = DispatchSemaphore(value: 0)
            try client.onConnect { connected.signal() }
            try client.onDisconnect { _ in }
            let id = try client.on("echo") { _ in }
            try client.onMessage("chat") { _ in }
            try client.emit("echo", ["i": .int(i)], binary: Data(count: 64))  // sent, or buffered offline
            if serverURL != nil {
                XCTAssertEqual(connected.wait(timeout: .now() + 10), .success, "cycle \(i) connects")
            }
            try client.off(id)
            if i % 2 == 0 { client.close() }
        }
        for i in 0..<100 { try cycle(i) }
        let before = residentBytes()
        let start = Date()
        for i in 0..<1000 { try cycle(i) }
        let after = residentBytes()
        let growth = after - before
        print("create/\(serverURL == nil ? "" : "connect/")close x1000 in \(String(format: "%.2f", Date().timeIntervalSince(start))) s: "
              + "resident \(before / 1024) KiB -> \(after / 1024) KiB (\(growth / 1024) KiB)")
        XCTAssertLessThan(growth, 20 * 1024 * 1024)
    }

    /// Handlers (and what they capture) are released by off(), close() and deinit.
    func testHandlersAreReleased() throws {
        final class Token: Sendable {}
        /// A handler that is the only owner of a token; `token` tells whether it is still alive.
        final class Probe {
            weak var token: Token?
            func handler() -> @Sendable () -> Void {
                let t = Token()
                token = t
                return { _ = t }
            }
        }
        let offed = Probe(), closed = Probe(), deinited = Probe()
        func scope() throws {
            let client = try RealtimeClient(url: "http://127.0.0.1:9/", options: ["autoConnect": false])
            let onX = offed.handler()
            let id = try client.on("x") { _ in onX() }
            try client.onConnect(closed.handler())
            let other = try RealtimeClient(url: "http://127.0.0.1:9/", options: ["autoConnect": false])
            let onDisconnect = deinited.handler()
            try other.onDisconnect { _ in onDisconnect() }
            XCTAssertNotNil(offed.token)
            try client.off(id)
            XCTAssertNotNil(closed.token)
            client.close()
            _ = other  // released at the end of this scope: deinit closes it
        }
        try scope()
        XCTAssertNil(offed.token, "released by off()")
        XCTAssertNil(closed.token, "released by close()")
        XCTAssertNil(deinited.token, "released by deinit")
    }

    func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    // MARK: - JSON

    func testJSONValue() throws {
        let text = #"{"a":[1,-2,3.5,1e3,true,false,null],"s":"x\"y\\z\n\u00e9\ud83d\ude00","o":{}}"#
        let v = try JSONValue(parsing: text)
        XCTAssertEqual(v["a"], [1, -2, 3.5, 1000.0, true, false, nil])
        XCTAssertEqual(v["s"], "x\"y\\z\né😀")
        XCTAssertEqual(v["o"], [:])
        XCTAssertEqual(try JSONValue(parsing: v.description), v, "round trip")
        XCTAssertEqual(v["a"]?[2]?.doubleValue, 3.5)
        XCTAssertEqual(v["a"]?[3]?.intValue, 1000)
        for bad in ["", "[1,]", "{\"a\"}", "[1 2]", "\"\u{01}\"", "tru", "01x"] {
            XCTAssertThrowsError(try JSONValue(parsing: bad), bad)
        }
        var buffers: [Data] = []
        let encoded = JSONValue.array(["x", .binary(Data([1])), ["y": .binary(Data([2]))]]).encoded(buffers: &buffers)
        XCTAssertEqual(encoded, #"["x",{"_placeholder":true,"num":0},{"y":{"_placeholder":true,"num":1}}]"#)
        XCTAssertEqual(buffers, [Data([1]), Data([2])])
        XCTAssertEqual(try JSONValue(parsing: encoded).resolvingPlaceholders(buffers),
                       ["x", .binary(Data([1])), ["y": .binary(Data([2]))]])
    }
}
