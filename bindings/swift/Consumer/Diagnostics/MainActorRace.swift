// Must NOT compile (checked by `make swift-consumer-test`): handlers are @Sendable, so a handler written
// in a @MainActor class cannot touch the class's state from the SDK's queue. Before handlers were
// @Sendable this compiled without a diagnostic and raced (issue 8, item 9).
import Realtime

@MainActor final class RacyModel {
    var messages: [String] = []
    func attach(_ client: RealtimeClient) throws {
        try client.on("chat") { event in self.messages.append(event.name) }
    }
}
