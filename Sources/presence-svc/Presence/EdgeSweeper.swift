import Logging
import ServiceLifecycle

/// Periodically removes the sessions of edges that stopped heartbeating (crashed or cut off).
struct EdgeSweeper: Service {
    let store: PresenceStore
    let timeout: Duration
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await store.expireEdges(olderThan: timeout)
            } catch {
                logger.error("sweeping dead edges failed", metadata: ["parley.error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
