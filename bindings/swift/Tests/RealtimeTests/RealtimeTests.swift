import CRealtime
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

/// A weak reference (for checking that handlers were released).
struct Weak: @unchecked Sendable {
    weak var object: AnyObject?
    init(_ object: AnyObject) { self.object = object }
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

    // MARK: - User events (Agnost)

    /// Asks the test server to push `name` (eventName, session, user) to this client, as Agnost's API
    /// server does to a user's sockets ("test:user-event").
    func pushUserEvent(_ client: RealtimeClient, _ name: String, session: JSONValue, user: JSONValue) throws {
        try client.emit("test:user-event", ["eventName": .string(name), "session": session, "user": user])
    }

    /// A user event reaches onUserEvent with its name, session and user exactly as the server sent
    /// them, on the client's queue.
    func testUserEventReachesOnUserEvent() throws {
        let queue = DispatchQueue(label: "app.user-events")
        queue.setSpecific(key: Self.queueKey, value: "user-events")
        let client = try makeClient(queue: queue)
        let got = expectation(description: "user:signin")
        let events = Locked<[UserEvent]>([])
        let onQueue = Locked(false)
        try client.onUserEvent { event in
            onQueue.value = DispatchQueue.getSpecific(key: RealtimeTests.queueKey) == "user-events"
            events.mutate { $0.append(event) }
            got.fulfill()
        }
        let session: JSONValue = ["token": "sess-1", "userId": "u1", "expiresAt": 1_700_000_000]
        let user: JSONValue = ["_id": "u1", "name": "Ännä \"A\"", "tags": ["a", nil], "verified": true, "score": 2.5]
        try pushUserEvent(client, "user:signin", session: session, user: user)  // buffered until connected
        wait(for: [got], timeout: 10)
        XCTAssertEqual(events.value, [UserEvent(name: "user:signin", session: session, user: user)])
        XCTAssertTrue(onQueue.value, "handlers run on the client's queue")
    }

    /// The seven user events, pushed in an order of their own, arrive in that order.
    func testUserEventsArriveInOrder() throws {
        let client = try connectedClient()
        let names = ["user:update", "user:signin", "user:pwdchange", "user:emailchange", "user:phonechange",
                     "user:signout", "user:delete"]
        let all = expectation(description: "seven user events")
        let events = Locked<[UserEvent]>([])
        try client.onUserEvent { event in
            var n = 0
            events.mutate { $0.append(event); n = $0.count }
            if n == names.count { all.fulfill() }
        }
        for (i, name) in names.enumerated() {
            try pushUserEvent(client, name, session: ["seq": .int(i)], user: ["_id": "u1", "seq": .int(i)])
        }
        wait(for: [all], timeout: 10)
        XCTAssertEqual(events.value.map(\.name), names)
        XCTAssertEqual(events.value.map(\.session), (0..<names.count).map { ["seq": .int($0)] })
        XCTAssertEqual(events.value.map(\.user), (0..<names.count).map { ["_id": "u1", "seq": .int($0)] })
    }

    /// User events are not channel messages: onMessage (for their names or any other) gets none of
    /// them. A plain on("user:update") still gets that event (the library's user-event listener is a
    /// catch-all filter, so it runs first), with the arguments [name, session, user].
    func testUserEventsAreNotChannelMessages() throws {
        let client = try connectedClient(Self.fast.merging(["echoMessages": true]) { $1 })
        let order = Locked<[String]>([])
        let named = Locked<[JSONValue]>([])
        let sentinel = expectation(description: "the channel message sent after the user events")
        for event in ["user:signin", "user:update", "chat"] {
            try client.onMessage(event) { _ in
                order.mutate { $0.append("message:\(event)") }
                if event == "chat" { sentinel.fulfill() }
            }
        }
        try client.onUserEvent { event in order.mutate { $0.append("user:\(event.name)") } }
        try client.on("user:update") { event in
            order.mutate { $0.append("on:\(event.name)") }
            named.value = event.args
        }
        try client.join("user-events")
        try pushUserEvent(client, "user:signin", session: ["token": "t1"], user: ["_id": "u1"])
        try pushUserEvent(client, "user:update", session: ["token": "t1"], user: ["_id": "u1", "name": "Ann"])
        try client.send(channel: "user-events", event: "chat", message: ["text": "after"])  // echoed to us
        wait(for: [sentinel], timeout: 10)
        XCTAssertEqual(order.value, ["user:user:signin", "user:user:update", "on:user:update", "message:chat"])
        XCTAssertEqual(named.value, ["user:update", ["token": "t1"], ["_id": "u1", "name": "Ann"]])
    }

    /// offAny() leaves onUserEvent handlers alone; after off(id) that handler gets no more user events
    /// (an echo emitted after them proves they were all delivered) and is released.
    func testOffStopsUserEvents() throws {
        final class Token: Sendable {}
        let client = try connectedClient()
        let removed = Locked<[String]>([])
        let kept = Locked<[String]>([])
        var token: Token? = Token()
        let weakToken = Weak(token!)
        let first = expectation(description: "user:signin")
        let id = try client.onUserEvent { [token] event in
            _ = token
            removed.mutate { $0.append(event.name) }
            if event.name == "user:signin" { first.fulfill() }
        }
        token = nil
        try client.onUserEvent { event in kept.mutate { $0.append(event.name) } }
        try client.onAny { _ in }
        try client.offAny()
        try pushUserEvent(client, "user:signin", session: ["token": "t1"], user: ["_id": "u1"])
        wait(for: [first], timeout: 10)

        try client.off(id)
        let sentinel = expectation(description: "the echo emitted after the user events")
        try client.on("echo") { event in if event.args == ["sentinel"] { sentinel.fulfill() } }
        try pushUserEvent(client, "user:signout", session: nil, user: ["_id": "u1"])
        try pushUserEvent(client, "user:delete", session: nil, user: ["_id": "u1"])
        try client.emit("echo", "sentinel")
        wait(for: [sentinel], timeout: 10)
        XCTAssertEqual(removed.value, ["user:signin"], "no user event after off()")
        XCTAssertEqual(kept.value, ["user:signin", "user:signout", "user:delete"], "the others were delivered")
        client.queue.sync {}
        XCTAssertNil(weakToken.object, "the removed handler was released")
    }

    /// A session or user that is null (or that the server left out) arrives as .null.
    func testUserEventNullSessionAndUser() throws {
        let client = try connectedClient()
        let all = expectation(description: "three user events")
        let events = Locked<[UserEvent]>([])
        try client.onUserEvent { event in
            var n = 0
            events.mutate { $0.append(event); n = $0.count }
            if n == 3 { all.fulfill() }
        }
        try pushUserEvent(client, "user:signout", session: nil, user: ["_id": "u1"])
        try pushUserEvent(client, "user:delete", session: ["token": "t1"], user: nil)
        try client.emit("test:user-event", ["eventName": "user:signout"])  // neither: the server sends null
        wait(for: [all], timeout: 10)
        XCTAssertEqual(events.value, [
            UserEvent(name: "user:signout", session: .null, user: ["_id": "u1"]),
            UserEvent(name: "user:delete", session: ["token": "t1"], user: .null),
            UserEvent(name: "user:signout", session: .null, user: .null),
        ])
    }

    /// userEvents yields the user events in order, and ends when the client is closed.
    func testUserEventsStream() throws {
        let client = try connectedClient()
        let stream = client.userEvents  // registered at once
        let names = ["user:pwdchange", "user:emailchange", "user:phonechange"]
        for name in names { try pushUserEvent(client, name, session: ["token": "t1"], user: ["changed": .string(name)]) }
        runAsync {
            var seen: [UserEvent] = []
            for await event in stream {
                seen.append(event)
                if seen.count == names.count { break }
            }
            XCTAssertEqual(seen, names.map { UserEvent(name: $0, session: ["token": "t1"], user: ["changed": .string($0)]) })
            let ending = client.userEvents
            client.close()
            for await event in ending { XCTFail("nothing after close(): \(event)") }
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

    /// Once-listeners removed while their event is being delivered (the library may be running the
    /// trampoline at that very moment): off() never releases a box the library still uses (it is
    /// released by the library's finalizer), and every box and what its handler captured is released
    /// in the end, whether the listener ran or was removed.
    func testOffRacingRunningOnceListeners() throws {
        final class Token: Sendable {}
        let client = try connectedClient()
        let baseline = client.core.listenerCount
        let tokens = Locked<[Weak]>([])
        let ran = Locked(0)
        for i in 0..<300 {
            let token = Token()
            tokens.mutate { $0.append(Weak(token)) }
            let id = try client.once("echo") { _ in _ = token; ran.mutate { $0 += 1 } }
            try client.emit("echo", .int(i))
            if i % 3 != 0 { usleep(UInt32(i % 7) * 100) }
            do { try client.off(id) } catch RealtimeError.status(.unknownListener, _) {}  // it ran already
        }
        // A named listener that stays proves the flood is over; then the queue is drained.
        let last = expectation(description: "last echo")
        let lastID = try client.on("echo") { event in if event.args == ["last"] { last.fulfill() } }
        try client.emit("echo", "last")
        wait(for: [last], timeout: 10)
        try client.off(lastID)
        client.queue.sync {}
        // A finalizer runs once its listener's call returned, which may be just after the hop.
        let deadline = Date().addingTimeInterval(2)
        while client.core.listenerCount != baseline && Date() < deadline { usleep(1000) }
        XCTAssertEqual(client.core.listenerCount, baseline, "once-listeners that ran or were removed are forgotten")
        XCTAssertEqual(tokens.value.filter { $0.object != nil }.count, 0, "every handler was released (ran \(ran.value) of 300)")
    }

    /// A failed registration reports the library's status and message (not a fixed .invalidArgument).
    func testRegistrationFailureReportsLibraryStatus() throws {
        let client = try RealtimeClient(url: "http://127.0.0.1:9/", options: ["autoConnect": false])
        defer { client.close() }
        let box = CallbackBox<Void>(core: client.core) { _ in }
        XCTAssertThrowsError(try client.core.register(box) { h, _ in
            _ = realtime_off(h, 0xDEAD)  // fails: this thread's last error is "unknown listener"
            return 0
        }) { error in
            guard case .status(let status, let message)? = error as? RealtimeError else { return XCTFail("\(error)") }
            XCTAssertEqual(status, .unknownListener)
            XCTAssertFalse(message.isEmpty)
        }
    }

    // MARK: - Swift 6: main actor, connection state

    /// A view model isolated to the main actor: its handlers, wrapped with mainActor(_:) on a client
    /// created with queue: .main, run on the main actor and may use its state directly.
    @MainActor final class ViewModel {
        var names: [String] = []
        var connects = 0
        let received: XCTestExpectation
        init(received: XCTestExpectation) { self.received = received }

        func attach(to client: RealtimeClient) throws {
            try client.onConnect(client.mainActor { [weak self] in self?.connects += 1 })
            try client.on("echo", client.mainActor { [weak self] (event: RealtimeEvent) in
                MainActor.assertIsolated()
                guard let self else { return }
                self.names.append(event.name)
                self.received.fulfill()
            })
        }
    }

    func testMainActorHandler() throws {
        let client = try makeClient(queue: .main)
        let received = expectation(description: "echo on the main actor")
        let model = MainActor.assumeIsolated { ViewModel(received: received) }  // tests run on the main thread
        try MainActor.assumeIsolated { try model.attach(to: client) }
        try client.emit("echo", 1)  // buffered until connected
        wait(for: [received], timeout: 10)  // runs the main queue
        MainActor.assumeIsolated {
            XCTAssertEqual(model.names, ["echo"])
            XCTAssertEqual(model.connects, 1)
        }
        // A client whose handlers run elsewhere refuses main-actor handlers.
        let other = try makeClient()
        XCTAssertThrowsError(try other.mainActor { @MainActor in }) { error in
            guard case .status(.invalidArgument, _)? = error as? RealtimeError else { return XCTFail("\(error)") }
        }
    }

    /// connectionStates replays the current state to every new subscriber, then follows the changes,
    /// and ends after .closed.
    func testConnectionStateStreamReplays() throws {
        var options = Self.fast
        options["autoConnect"] = false
        let client = try makeClient(options)
        XCTAssertEqual(client.connectionState, .disconnected(reason: nil))
        runAsync {
            var early = client.connectionStates.makeAsyncIterator()
            let first = await early.next()
            XCTAssertEqual(first, .disconnected(reason: nil), "the current state first")
            try client.open()
            var seen: [ConnectionState] = []
            while let s = await early.next() {
                seen.append(s)
                if s == .connected { break }
            }
            XCTAssertEqual(seen, [.connecting, .connected])
            XCTAssertEqual(client.connectionState, .connected)

            // A late subscriber sees .connected at once.
            var late = client.connectionStates.makeAsyncIterator()
            let replayed = await late.next()
            XCTAssertEqual(replayed, .connected)

            try client.disconnect()
            XCTAssertEqual(client.connectionState, .disconnected(reason: "io client disconnect"))
            let afterDisconnect = await late.next()
            XCTAssertEqual(afterDisconnect, .disconnected(reason: "io client disconnect"))
            let earlyAfterDisconnect = await early.next()
            XCTAssertEqual(earlyAfterDisconnect, .disconnected(reason: "io client disconnect"))

            client.close()
            let closed = await late.next()
            XCTAssertEqual(closed, .closed)
            let end = await late.next()
            XCTAssertNil(end, "the stream ends after .closed")
            var afterClose = client.connectionStates.makeAsyncIterator()
            let closedAgain = await afterClose.next()
            XCTAssertEqual(closedAgain, .closed)
            let endAgain = await afterClose.next()
            XCTAssertNil(endAgain)
        }
    }

    /// Reconnection shows as .disconnected(reason:), .connecting (each attempt), then .connected.
    func testConnectionStateFollowsReconnection() throws {
        let client = try connectedClient()
        let stream = client.connectionStates
        let states = Locked<[ConnectionState]>([])
        let done = expectation(description: "connected again")
        let consumer = Task {
            var sawDown = false
            for await s in stream {
                states.mutate { $0.append(s) }
                if s != .connected { sawDown = true }
                if sawDown && s == .connected { done.fulfill(); break }
            }
        }
        try client.emit("test:restart", ["downMs": 500])
        wait(for: [done], timeout: 20)
        consumer.cancel()
        let seen = states.value
        XCTAssertEqual(seen.first, .connected, "replayed: \(seen)")
        XCTAssertEqual(seen.dropFirst().first, .disconnected(reason: "transport close"), "\(seen)")
        XCTAssertTrue(seen.contains(.connecting), "\(seen)")
        XCTAssertEqual(seen.last, .connected, "\(seen)")
    }

    func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    // MARK: - Logging

    /// Records arrive at .info and above; setLogHandler(nil) stops them and releases the handler at once.
    func testLogHandler() throws {
        let url = try serverURL()
        let records = Locked<[LogRecord]>([])
        let connectedRecord = expectation(description: "a 'connected to' record")
        connectedRecord.assertForOverFulfill = false
        final class Token: Sendable {}
        var token: Token? = Token()
        let weakToken = Weak(token!)
        RealtimeClient.setLogHandler(minLevel: .info) { [token] record in
            _ = token
            records.mutate { $0.append(record) }
            if record.message.contains("connected to") { connectedRecord.fulfill() }
        }
        token = nil
        XCTAssertTrue(LogHandlerSlot.shared.isSet)
        do {
            let client = try RealtimeClient(url: url, options: Self.fast)
            defer { client.close() }
            wait(for: [connectedRecord], timeout: 10)
        }
        RealtimeClient.setLogHandler(nil)
        XCTAssertFalse(LogHandlerSlot.shared.isSet)
        XCTAssertNil(weakToken.object, "the replaced handler is released when setLogHandler returns")

        let seen = records.value
        let connected = try XCTUnwrap(seen.first { $0.message.contains("connected to") }, "\(seen)")
        XCTAssertEqual(connected.level, .info, "\(connected)")
        XCTAssertTrue(connected.target.hasPrefix("realtime"), connected.target)
        XCTAssertTrue(connected.message.contains("websocket"), connected.message)
        XCTAssertTrue(seen.allSatisfy { $0.level <= .info }, "only .info and more severe: \(seen)")
        XCTAssertFalse(seen.contains { $0.message.hasSuffix("\n") })

        // Off: a whole session (connect, disconnect, close) makes no record.
        let count = seen.count
        let client = try connectedClient()
        try client.disconnect()
        client.close()
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(records.value.count, count, "no record after setLogHandler(nil): \(records.value.dropFirst(count))")
    }

    /// A handler replaced by another one (more verbose) is released; levels map to the C values.
    func testLogHandlerReplacedAndLevels() throws {
        XCTAssertEqual(LogLevel.allCases.map(\.rawValue), [1, 2, 3, 4, 5])
        XCTAssertEqual(LogLevel.error.cLevel, REALTIME_LOG_LEVEL_ERROR)
        XCTAssertEqual(LogLevel.trace.cLevel, REALTIME_LOG_LEVEL_TRACE)
        XCTAssertEqual(LogLevel(REALTIME_LOG_LEVEL_WARN), .warn)
        XCTAssertTrue(LogLevel.error < .warn && LogLevel.debug < .trace)
        XCTAssertEqual(LogRecord(level: .warn, target: "t", message: "m").description, "[warn] t: m")

        final class Token: Sendable {}
        var first: Token? = Token()
        let weakFirst = Weak(first!)
        RealtimeClient.setLogHandler(minLevel: .error) { [first] _ in _ = first }
        first = nil
        XCTAssertNotNil(weakFirst.object, "held while set")
        let traced = Locked(0)
        RealtimeClient.setLogHandler(minLevel: .trace) { record in
            if record.level == .trace { traced.mutate { $0 += 1 } }
        }
        XCTAssertNil(weakFirst.object, "released once replaced")
        defer { RealtimeClient.setLogHandler(nil) }
        guard (try? serverURL()) != nil else { return }
        let client = try connectedClient()
        try client.emit("hello", "world")
        Thread.sleep(forTimeInterval: 0.2)
        client.close()
        RealtimeClient.setLogHandler(nil)
        XCTAssertGreaterThan(traced.value, 0, "packets are traced at .trace")
    }

    /// A handler may remove itself (it stays alive until its own call returned).
    func testLogHandlerRemovesItself() throws {
        _ = try serverURL()
        let calls = Locked(0)
        let removed = expectation(description: "removed itself")
        RealtimeClient.setLogHandler(minLevel: .info) { _ in
            calls.mutate { $0 += 1 }
            RealtimeClient.setLogHandler(nil)
            removed.fulfill()
        }
        defer { RealtimeClient.setLogHandler(nil) }
        let client = try connectedClient()
        wait(for: [removed], timeout: 10)
        client.close()
        XCTAssertFalse(LogHandlerSlot.shared.isSet)
        XCTAssertEqual(calls.value, 1)
    }

    // MARK: - Stats

    func testStats() throws {
        let url = try serverURL()
        let client = try RealtimeClient(url: url, options: Self.fast.merging(["autoConnect": false]) { $1 })
        addTeardownBlock { client.close() }
        let idle = try client.stats()
        XCTAssertEqual(idle.version, 1)
        XCTAssertEqual(idle.state, "idle")
        XCTAssertFalse(idle.connected)
        XCTAssertEqual(idle.namespace, "/")
        XCTAssertEqual(idle.connects, 0)
        XCTAssertNil(idle.transport)
        XCTAssertNil(idle.lastDisconnectReason)
        XCTAssertNil(idle.lastAckRoundTripUs)
        XCTAssertNil(idle.lastPingRoundTripUs)
        XCTAssertEqual(idle.emits, 0)

        let connected = expectation(description: "connected")
        try client.onConnect { connected.fulfill() }
        try client.open()
        wait(for: [connected], timeout: 10)
        let up = try client.stats()
        XCTAssertEqual(up.state, "connected")
        XCTAssertTrue(up.connected)
        XCTAssertEqual(up.connects, 1)
        XCTAssertEqual(up.transport, "websocket")
        XCTAssertNotNil(up.msInEachState["connected"])
        XCTAssertGreaterThan(up.packetsIn, 0)
        XCTAssertGreaterThan(up.listeners, 0)

        try client.emit("hello", 1)
        try client.emit("hello", 2)
        runAsync {
            let answer = try await client.emitWithAck("echo", "ping", timeout: 5)
            XCTAssertEqual(answer, ["ping"])
        }
        let after = try client.stats()
        XCTAssertEqual(after.emits, 3, "every emit is counted")
        XCTAssertEqual(after.acksAnswered, 1)
        XCTAssertEqual(after.pendingAcks, 0)
        XCTAssertNotNil(after.lastAckRoundTripUs)
        XCTAssertNotNil(try waitForStats(client) { $0.packetsOut >= up.packetsOut + 3 }, "packetsOut")

        // The server drops the connection: the reason, then a reconnection.
        try client.emit("test:restart", ["downMs": 300])
        let down = try XCTUnwrap(waitForStats(client) { $0.lastDisconnectReason != nil })
        XCTAssertEqual(down.lastDisconnectReason, "transport close")
        let again = try XCTUnwrap(waitForStats(client, timeout: 15) { $0.connected })
        XCTAssertEqual(again.state, "connected")
        XCTAssertEqual(again.connects, 2)
        XCTAssertEqual(again.reconnects, 1)
        XCTAssertEqual(again.emits, 4)
        XCTAssertGreaterThan(again.msInEachState["connecting", default: 0] + again.msInEachState["waiting", default: 0], 0)

        client.close()
        assertThrows(.closed) { _ = try client.stats() }
    }

    /// The first snapshot satisfying `ok` within `timeout` seconds (counters are written per batch).
    func waitForStats(_ client: RealtimeClient, timeout: TimeInterval = 5, _ ok: (RealtimeStats) -> Bool) throws -> RealtimeStats? {
        let end = Date().addingTimeInterval(timeout)
        repeat {
            let stats = try client.stats()
            if ok(stats) { return stats }
            Thread.sleep(forTimeInterval: 0.01)
        } while Date() < end
        return nil
    }

    /// The stack buffer first, a heap buffer when the object does not fit (a long namespace).
    func testStatsLargerThanTheStackBuffer() throws {
        let long = "/" + String(repeating: "n", count: 5000)
        let client = try RealtimeClient(url: "http://127.0.0.1:9" + long, options: ["autoConnect": false])
        defer { client.close() }
        let stats = try client.stats()
        XCTAssertEqual(stats.namespace, long)
        XCTAssertEqual(stats.state, "idle")
    }

    // MARK: - Tracked emits

    /// Every status of a tracked emit (the stream ends after the final one).
    func statuses(_ stream: AsyncStream<MessageStatus>, timeout: TimeInterval = 15,
                  file: StaticString = #filePath, line: UInt = #line) -> [MessageStatus] {
        let seen = Locked<[MessageStatus]>([])
        runAsync(timeout: timeout, file: file, line: line) {
            for await status in stream { seen.mutate { $0.append(status) } }
        }
        return seen.value
    }

    /// Connected: .sent, then .acked with the server's answer (the "ack" and "echo" events answer with
    /// their arguments); the handler variant runs on the client's queue; each box is released after
    /// its final status.
    func testTrackedEmitAcked() throws {
        let client = try connectedClient()
        XCTAssertEqual(statuses(try client.emitTracked("ack", 1, ["a": 2], ttl: 5)), [.sent, .acked([1, ["a": 2]])])

        let queue = client.queue
        let done = expectation(description: "final status")
        let seen = Locked<[MessageStatus]>([])
        try client.emitTracked("echo", "x", ttl: 5) { status in
            dispatchPrecondition(condition: .onQueue(queue))
            seen.mutate { $0.append(status) }
            if status.isFinal { done.fulfill() }
        }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(seen.value, [.sent, .acked(["x"])])
        XCTAssertEqual(client.core.pendingCount, 0, "released after the final status")
    }

    /// Offline past its time to live: .queued, then .expired, and it is never sent (the server echoes
    /// whatever reaches it, in order: only the emit made after it arrives).
    func testTrackedEmitExpiresOffline() throws {
        let client = try makeClient(Self.fast.merging(["autoConnect": false]) { $1 })
        let echoed = Locked<[JSONValue]>([])
        let after = expectation(description: "the echo emitted after the expiry")
        try client.on("echo") { event in
            echoed.mutate { $0.append(contentsOf: event.args) }
            if event.args == ["after"] { after.fulfill() }
        }
        XCTAssertEqual(statuses(try client.emitTracked("echo", "expiring", ttl: 0.15)), [.queued, .expired])
        XCTAssertEqual(client.core.pendingCount, 0)
        try client.emit("echo", "after")  // buffered, sent after the connect
        try client.open()
        wait(for: [after], timeout: 10)
        XCTAssertEqual(echoed.value, ["after"], "the expired message never reached the server")
    }

    /// Sent, never acknowledged: .sent, then .failed when the time to live passes; or when the socket
    /// is disconnected with the message in flight.
    func testTrackedEmitFailsWithoutAck() throws {
        let client = try connectedClient()
        let seen = statuses(try client.emitTracked("nothing-answers-this", "x", ttl: 0.3))
        guard seen.count == 2, seen.first == .sent, case .failed(let reason)? = seen.last else { return XCTFail("\(seen)") }
        XCTAssertTrue(reason.contains("time to live"), reason)

        let stream = try client.emitTracked("nothing-answers-this", "y")  // no time to live
        runAsync {
            var statuses = stream.makeAsyncIterator()
            let first = await statuses.next()
            XCTAssertEqual(first, .sent)
            try client.disconnect()
            let last = await statuses.next()
            XCTAssertEqual(last, .failed(reason: "socket has been disconnected"))
            let end = await statuses.next()
            XCTAssertNil(end, "nothing after the final status")
        }
    }

    /// close() ends tracking without a final status: the stream ends, the handler is released, nothing
    /// is left pending. Binary data and a closed client throw.
    func testTrackedEmitEndsAtClose() throws {
        let client = try RealtimeClient(url: "http://127.0.0.1:9/", options: ["autoConnect": false])
        XCTAssertThrowsError(try client.emitTracked("ack", .binary(Data([1])))) { error in
            guard case .status(.invalidArgument, _)? = error as? RealtimeError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try client.emitTracked("disconnect")) { error in
            guard case .status(.reservedEvent, _)? = error as? RealtimeError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(client.core.pendingCount, 0, "a refused emit leaves nothing pending")
        final class Token: Sendable {}
        var token: Token? = Token()
        let weakToken = Weak(token!)
        try client.emitTracked("ack", 1) { [token] _ in _ = token }
        token = nil
        let stream = try client.emitTracked("ack", 2)
        XCTAssertEqual(client.core.pendingCount, 2)
        runAsync {
            var statuses = stream.makeAsyncIterator()
            let first = await statuses.next()
            XCTAssertEqual(first, .queued)
            client.close()
            let end = await statuses.next()
            XCTAssertNil(end, "the stream ends at close(), without a final status")
        }
        client.queue.sync {}  // a status hop queued before close() holds the handler until it ran
        XCTAssertEqual(client.core.pendingCount, 0)
        XCTAssertNil(weakToken.object, "the handler was released by close()")
        assertThrows(.closed) { _ = try client.emitTracked("ack") }
    }

    // MARK: - Auth provider

    /// The auth the server saw in this connection's CONNECT (its "test:whoami" answers it).
    func serverAuth(_ client: RealtimeClient, file: StaticString = #filePath, line: UInt = #line) -> JSONValue {
        let auth = Locked<JSONValue>(.null)
        runAsync(file: file, line: line) { auth.value = try await client.emitWithAck("test:whoami", timeout: 5).first ?? .null }
        return auth.value
    }

    /// A provider that answers after an await: the CONNECT waits for it and carries its answer, not
    /// the auth option. A @MainActor provider runs on the main actor (wait(for:) runs the main queue).
    func testAuthProviderAnswersLater() throws {
        let client = try makeClient(Self.fast.merging(["autoConnect": false, "auth": ["token": "static"]]) { $1 })
        let calls = Locked(0)
        try client.setAuthProvider { @MainActor in
            MainActor.assertIsolated()
            calls.mutate { $0 += 1 }
            try await Task.sleep(nanoseconds: 300_000_000)
            return ["token": "async-1"]
        }
        let connected = expectation(description: "connected")
        try client.onConnect { connected.fulfill() }
        let start = Date()
        try client.open()
        wait(for: [connected], timeout: 10)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.25, "the CONNECT waited for the answer")
        XCTAssertEqual(serverAuth(client), ["token": "async-1"])
        XCTAssertEqual(calls.value, 1)
    }

    /// Asked again before every CONNECT: after a reconnection the server sees the new token.
    func testAuthProviderFreshTokenOnReconnect() throws {
        let client = try makeClient(Self.fast.merging(["autoConnect": false]) { $1 })
        let calls = Locked(0)
        try client.setAuthProvider {
            var n = 0
            calls.mutate { $0 += 1; n = $0 }
            return ["token": .string("t\(n)")]
        }
        let connects = [expectation(description: "connected"), expectation(description: "reconnected")]
        let count = Locked(0)
        try client.onConnect {
            var n = 0
            count.mutate { $0 += 1; n = $0 }
            if n <= connects.count { connects[n - 1].fulfill() }
        }
        try client.open()
        wait(for: [connects[0]], timeout: 10)
        XCTAssertEqual(serverAuth(client), ["token": "t1"])
        try client.reconnectNow()
        wait(for: [connects[1]], timeout: 10)
        XCTAssertEqual(serverAuth(client), ["token": "t2"])
        XCTAssertEqual(calls.value, 2)
    }

    /// nil or a throw declines: an error, no connection, no retry until open(). Without a provider
    /// (setAuthProvider(nil)) the auth option is used again.
    func testAuthProviderDeclines() throws {
        struct NoToken: Error {}
        let client = try makeClient(Self.fast.merging(["autoConnect": false, "auth": ["token": "static"]]) { $1 })
        let calls = Locked(0)
        try client.setAuthProvider {
            var n = 0
            calls.mutate { $0 += 1; n = $0 }
            if n == 1 { return nil }
            throw NoToken()
        }
        let errors = [expectation(description: "declined (nil)"), expectation(description: "declined (throw)")]
        let messages = Locked<[String]>([])
        try client.onError { message, _ in
            var n = 0
            messages.mutate { $0.append(message); n = $0.count }
            if n <= errors.count { errors[n - 1].fulfill() }
        }
        let connects = Locked(0), attempts = Locked(0)
        let connected = expectation(description: "connected without a provider")
        try client.onConnect { connects.mutate { $0 += 1 }; connected.fulfill() }
        try client.onReconnectAttempt { _ in attempts.mutate { $0 += 1 } }

        try client.open()
        wait(for: [errors[0]], timeout: 10)
        Thread.sleep(forTimeInterval: 0.5)  // reconnectionDelay is 100 ms: a retry would show by now
        XCTAssertEqual(calls.value, 1, "the client stopped: not asked again")
        XCTAssertEqual(attempts.value, 0)
        XCTAssertFalse(client.isConnected)
        try client.open()
        wait(for: [errors[1]], timeout: 10)
        XCTAssertEqual(messages.value.count, 2)
        XCTAssertTrue(messages.value.allSatisfy { $0.contains("declined") }, "\(messages.value)")
        XCTAssertEqual(connects.value, 0)

        try client.setAuthProvider(nil)
        try client.open()
        wait(for: [connected], timeout: 10)
        XCTAssertEqual(serverAuth(client), ["token": "static"])
        XCTAssertEqual(calls.value, 2, "a removed provider is not asked")
    }

    /// close() while the provider is awaited: its task is cancelled, nothing is answered or leaked.
    func testAuthProviderCancelledByClose() throws {
        let client = try makeClient(Self.fast.merging(["autoConnect": false]) { $1 })
        let asked = expectation(description: "asked")
        let cancelled = expectation(description: "the provider's task was cancelled")
        try client.setAuthProvider {
            asked.fulfill()
            do {
                try await Task.sleep(nanoseconds: 10_000_000_000)
            } catch is CancellationError {
                cancelled.fulfill()
            }
            return ["token": "late"]
        }
        try client.open()
        wait(for: [asked], timeout: 10)
        client.close()
        wait(for: [cancelled], timeout: 5)
        assertThrows(.closed) { try client.setAuthProvider(nil) }
    }

    // MARK: - Transports and proxies

    /// "transports": ["polling"]: HTTP long-polling only; events flow both ways.
    func testPollingTransport() throws {
        let client = try connectedClient(Self.fast.merging(["transports": ["polling"]]) { $1 })
        XCTAssertEqual(client.transportName, "polling")
        XCTAssertEqual(try client.stats().transport, "polling")
        let received = expectation(description: "echo over polling")
        try client.on("echo") { event in if event.args == ["over polling"] { received.fulfill() } }
        runAsync {
            let answer = try await client.emitWithAck("echo", "over polling", timeout: 5)
            XCTAssertEqual(answer, ["over polling"])
        }
        wait(for: [received], timeout: 5)
        XCTAssertEqual(client.transportName, "polling", "never upgraded")
        client.close()
        XCTAssertNil(client.transportName)

        let websocket = try connectedClient()
        XCTAssertEqual(websocket.transportName, "websocket", "the default")
    }

    /// "proxy": through a real HTTP CONNECT proxy (tinyproxy, started by with-server.js when installed).
    func testHTTPProxy() throws {
        let env = ProcessInfo.processInfo.environment
        guard let proxy = env["REALTIME_TEST_HTTP_PROXY"], !proxy.isEmpty, let log = env["REALTIME_TEST_HTTP_PROXY_LOG"] else {
            throw XCTSkip("REALTIME_TEST_HTTP_PROXY is not set: no tinyproxy (make proxy-deps)")
        }
        let port = try XCTUnwrap(URLComponents(string: try serverURL())?.port)
        let client = try connectedClient(Self.fast.merging(["proxy": .string(proxy)]) { $1 })
        XCTAssertEqual(client.transportName, "websocket")
        runAsync {
            let answer = try await client.emitWithAck("echo", "through the proxy", timeout: 5)
            XCTAssertEqual(answer, ["through the proxy"])
        }
        // tinyproxy logs each tunnel it opens ("CONNECT 127.0.0.1:<port> HTTP/1.1").
        let needle = "CONNECT 127.0.0.1:\(port)"
        let deadline = Date().addingTimeInterval(5)
        var text = ""
        repeat {
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.contains(needle) { break }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        XCTAssertTrue(text.contains(needle), "tinyproxy's log has no '\(needle)': \(text.suffix(2000))")
    }

    /// A proxy nobody listens on: the connection fails with an error naming the proxy (the option is
    /// applied, not ignored).
    func testUnreachableProxyFails() throws {
        _ = try serverURL()
        let client = try makeClient(Self.fast.merging(["proxy": "http://127.0.0.1:9", "reconnection": false]) { $1 })
        let failed = expectation(description: "error")
        failed.assertForOverFulfill = false  // one per transport tried
        let message = Locked("")
        try client.onError { text, _ in message.value = text; failed.fulfill() }
        let connects = Locked(0)
        try client.onConnect { connects.mutate { $0 += 1 } }
        wait(for: [failed], timeout: 10)
        XCTAssertTrue(message.value.contains("proxy"), message.value)
        XCTAssertEqual(connects.value, 0)
        XCTAssertFalse(client.isConnected)
        XCTAssertNil(client.transportName)
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
