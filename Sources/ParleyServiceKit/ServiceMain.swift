#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Metrics
import ParleyKafka
import ServiceLifecycle

/// The entry point every executable shares: read the settings (`--help`, one-line errors),
/// set up logging and metrics, check the Kafka runtime, build the process's ServiceGroup and
/// run it until SIGTERM or SIGINT.
public enum ServiceMain {
    public static func run<Configuration: ServiceConfiguration>(
        _ type: Configuration.Type,
        build: (Configuration, Logger) async throws -> ServiceGroup
    ) async {
        let configuration = Configuration.loadOrExit(arguments: Array(CommandLine.arguments.dropFirst()))
        let common = configuration.common
        let logger = ParleyLogging.bootstrap(level: common.logLevel, format: common.logFormat, label: Configuration.serviceName,
                                             metadata: configuration.logMetadata)
        logger.info("starting", metadata: [
            "parley.version": "\(ParleyVersion.current)",
            "parley.settings": "\(common.shownSettings.map { "\($0.name)=\($0.value)" }.joined(separator: " "))",
        ])
        do {
            try checkKafkaRuntime()
        } catch {
            FileHandle.standardError.write(Data("\(Configuration.serviceName): \(error)\n".utf8))
            exit(1)
        }
        _ = ParleyMetrics.registry
        Gauge(label: "parley_build_info", dimensions: [("service", Configuration.serviceName), ("version", ParleyVersion.current)])
            .record(1)
        do {
            let exporter = try ParleyTracing.bootstrap(endpoint: common.otelEndpoint, serviceName: Configuration.serviceName,
                                                       logger: logger)
            let group = try await build(configuration, logger)
            if let exporter {
                // The exporter stops after the services, so it flushes their last spans.
                try await ServiceGroup(configuration: .init(services: [
                    .init(service: exporter),
                    .init(service: group, successTerminationBehavior: .gracefullyShutdownGroup),
                ], logger: logger)).run()
            } else {
                try await group.run()
            }
            logger.info("stopped")
        } catch {
            logger.critical("failed", metadata: ["parley.error": "\(error)"])
            exit(1)
        }
    }

    /// A ServiceGroup that shuts down gracefully on SIGTERM and SIGINT, services in reverse order.
    public static func serviceGroup(_ services: [any Service], logger: Logger) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }
}

/// Retries `body` until it succeeds or `timeout` passes (then rethrows the last error); for
/// start-up steps where Kafka or Redis may still be starting (compose, Kubernetes). An error
/// for which `fatal` is true is rethrown at once.
public func retryingAtStart<T: Sendable>(
    _ what: String, timeout: Duration = .seconds(60), logger: Logger, until fatal: (any Error) -> Bool = { _ in false },
    _ body: () async throws -> T
) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var delay = Duration.milliseconds(200)
    while true {
        do {
            return try await body()
        } catch {
            guard !fatal(error), ContinuousClock.now + delay < deadline else { throw error }
            logger.warning("\(what) failed, retrying", metadata: ["parley.error": "\(error)"])
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}

extension SettingsConfiguration {
    /// The configuration from `arguments` and the process's environment; `--help` prints the
    /// settings and exits 0, a bad value prints its one line and exits 2.
    public static func loadOrExit(arguments: [String]) -> Self {
        do {
            switch try load(arguments: arguments, environment: ProcessInfo.processInfo.environment) {
            case .help(let text):
                print(text)
                exit(0)
            case .run(let loaded):
                return loaded
            }
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(2)
        }
    }
}
