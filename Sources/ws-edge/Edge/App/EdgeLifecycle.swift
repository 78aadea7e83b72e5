import Logging
import ServiceLifecycle

/// Heartbeats while the edge runs, and at shutdown closes every session with 1001 "going away",
/// waits (at most ``closeTimeout``) until their disconnects are reported and reports
/// `edge_stopped`.
struct EdgeLifecycle: Service {
    let edge: EdgeContext
    let logger: Logger
    /// How long shutdown waits for the sessions' disconnects.
    static let closeTimeout = Duration.seconds(10)

    func run() async throws {
        let interval = edge.configuration.heartbeatInterval
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                edge.publisher.publishPresence(.heartbeat)
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        } onGracefulShutdown: {
            edge.hub.closeAll(.goingAway)
        }
        // Each session leaves the hub after its disconnect was queued for the broker, so
        // edge_stopped comes after every disconnect.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await edge.hub.waitUntilEmpty() }
            group.addTask { try? await Task.sleep(for: Self.closeTimeout) }
            await group.next()
            group.cancelAll()
        }
        edge.publisher.publishPresence(.edgeStopped)
        logger.info("sessions closed", metadata: ["parley.remaining": "\(edge.hub.count)"])
    }
}
