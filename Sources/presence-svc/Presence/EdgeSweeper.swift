import Logging
import ServiceLifecycle

/// Periodically removes the sessions of edges that stopped heartbeating (crashed or cut off),
/// counts the sessions presence knows, deletes the deliver topics of edges retired long enough
/// ago, and after a Redis Cluster failover asks the edges to resync. Returns at once on graceful
/// shutdown, also mid-sleep.
struct EdgeSweeper: Service {
    let store: PresenceStore
    let reaper: DeliverTopicReaper
    let timeout: Duration
    let interval: Duration
    let logger: Logger

    func run() async throws {
        // Graceful shutdown cancels the loop; what it throws then is the cancellation's doing.
        try? await cancelWhenGracefulShutdown {
            var slotMap: String?
            while !Task.isCancelled {
                do {
                    try await store.resyncAfterFailover(known: &slotMap)
                    try await store.sweep(timeout: timeout)
                } catch where !Task.isCancelled {
                    logger.error("sweeping dead edges failed", metadata: ["parley.error": "\(error)"])
                }
                do {
                    try await reaper.reap()
                } catch where !Task.isCancelled {
                    logger.error("deleting retired edges' deliver topics failed", metadata: ["parley.error": "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}

/// The score (unix ms) at or below which a heartbeat is older than `age` at `now`.
func heartbeatCutoff(now: UInt64, age: Duration) -> Double {
    let (seconds, attoseconds) = age.components
    return Double(Int64(now) - (seconds * 1000 + attoseconds / 1_000_000_000_000_000))
}
