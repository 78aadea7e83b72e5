import ServiceLifecycle

/// The edge's one keep-alive for all sessions: every `ping-interval` each session that was heard
/// from since the last round gets a ping, and one that stayed silent for a whole round (no
/// frame, not even the pong) is closed, so dead connections leave within two intervals. A round
/// is one hop per event loop.
struct SessionKeepAlive: Service {
    let edge: EdgeContext

    func run() async throws {
        let interval = edge.configuration.pingInterval
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            edge.hub.broadcast(.pingRound)
        }
    }
}
