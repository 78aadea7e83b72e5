import Hummingbird
import Logging
import ServiceLifecycle

/// The admin server of a service: `/healthz`, `/readyz`, `/metrics` (and what `routes` adds) on
/// the admin host and port, which no load balancer or Ingress routes to; within the process's
/// ``HTTPServerLimits``.
public enum OperationalServer {
    /// `routes` adds a service's own admin routes (ws-edge: the server API); `onServerRunning`
    /// gets the bound port (useful with port 0 in tests).
    public static func application(configuration: CommonConfiguration, readiness: Readiness, logger: Logger,
                                   routes: (Router<BasicRequestContext>) -> Void = { _ in },
                                   onServerRunning: @escaping @Sendable (Int) async -> Void) -> some Service {
        let router = Router()
        router.middlewares.add(HTTPMetricsMiddleware())
        router.addOperationalRoutes(readiness: readiness)
        routes(router)
        return Application(router: router, server: .limitedHTTP1(configuration.httpLimits, server: "admin"),
                           configuration: .init(address: .hostname(configuration.adminHost, port: configuration.adminPort)),
                           onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
                           logger: logger)
    }
}
