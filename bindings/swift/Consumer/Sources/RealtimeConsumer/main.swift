// Connects to $REALTIME_TEST_URL, round-trips an emit with ack, follows the connection state, exits
// 0 on success (1 otherwise).
import Foundation
import Realtime

guard let url = ProcessInfo.processInfo.environment["REALTIME_TEST_URL"] else {
    print("REALTIME_TEST_URL is not set (run through tests/server/with-server.js)")
    exit(1)
}

do {
    let client = try RealtimeClient(url: url, options: ["reconnectionDelay": 100])
    print("librealtime \(RealtimeClient.libraryVersion) from a dependent package")
    for await state in client.connectionStates {
        print("state: \(state)")
        if state == .connected { break }
    }
    let answer = try await client.emitWithAck("echo", "from the consumer", 42, timeout: 5)
    print("ack: \(answer)")
    guard answer == ["from the consumer", 42] else {
        print("unexpected answer")
        exit(1)
    }
    client.close()
    print("consumer OK")
} catch {
    print("error: \(error)")
    exit(1)
}
