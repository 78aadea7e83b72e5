import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP server of a service: `/healthz`, `/readyz`, `/metrics` on the configured host and port,
/// within the process's ``HTTPServerLimits``.
public enum OperationalServer {
    /// `onServerRunning` gets the bound port (useful with port 0 in tests).
    public static func application(configuration: CommonConfiguration, readiness: Readiness, logger: Logger,
                                   onServerRunning: @escaping @Sendable (Int) async -> Void) -> some Service {
        let router = Router()
        router.middlewares.add(HTTPMetricsMiddleware())
        router.addOperationalRoutes(readiness: readiness)
        return Application(router: router, server: .limitedHTTP1(configuration.httpLimits, server: "operational"),
                           configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort)),
                           onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
                           logger: logger)
    }
}
