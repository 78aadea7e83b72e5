import ServiceLifecycle

/// A long-lived resource in the process's ServiceGroup (a producer, a Redis pool): it does
/// nothing until graceful shutdown and then closes the resource, so the group closes resources
/// after the services listed after it have stopped.
public struct ClosingService: Service {
    private let close: @Sendable () async -> Void

    public init(close: @escaping @Sendable () async -> Void) { self.close = close }

    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
