// realtime-demo: connects, emits with an ack, joins a channel, prints the lifecycle, exits.
// Usage: swift run realtime-demo [URL]   (default: $REALTIME_TEST_URL or http://127.0.0.1:3000)
import Foundation
import Realtime

let url = CommandLine.arguments.dropFirst().first
    ?? ProcessInfo.processInfo.environment["REALTIME_TEST_URL"] ?? "http://127.0.0.1:3000"

let client = try RealtimeClient(url: url, options: [
    "auth": ["token": "abc", "echoMessages": true],
    "reconnectionDelay": 500,
])
print("librealtime \(RealtimeClient.libraryVersion), connecting to \(url)")

try client.onError { message, data in print("connection error: \(message) \(data)") }
try client.onDisconnect { reason in print("disconnected: \(reason)") }
try client.on("echo") { event in print("server emitted echo \(event.args)") }
try client.onMessage("chat") { msg in
    print("chat in \(msg.channel ?? "-") from \(msg.memberId ?? "?"): \(msg.data)")
}

let done = DispatchSemaphore(value: 0)
try client.onConnect { [weak client] in
    guard let client else { return }
    print("connected as \(client.socketId ?? "?")")
    Task {
        do {
            let answer = try await client.emitWithAck("echo", "hello", ["n": 42], timeout: 5)
            print("ack answer: \(answer)")
            try client.join("room")
            try client.send(channel: "room", event: "chat", message: ["text": "hi"])
            let members = try await client.members(channel: "room")
            print("members of room: \(members.map(\.id))")
        } catch {
            print("error: \(error)")
        }
        done.signal()
    }
}

if done.wait(timeout: .now() + 10) == .timedOut { print("timed out") }
client.close()
print("closed")
