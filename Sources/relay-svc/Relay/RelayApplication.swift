import Logging
import ParleyBackend
import ParleyServiceKit
import ServiceLifecycle

/// Builds relay-svc: consumer groups on chat.inbound and chat.acks, the producer, Redis and
/// the operational HTTP server, in the order the ServiceGroup must stop them (reverse).
public func buildRelay(_ configuration: RelayConfiguration, logger: Logger,
                       onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let common = configuration.common
    let backbone = try await ServiceBackbone.start(common, redis: configuration.redis, logger: logger)
    let router = MessageRouter(topics: common.topics, redis: backbone.redis, producer: backbone.producer,
                               dedupTTL: configuration.dedupTTL, logger: logger)
    let inbound = try backbone.consumer(common, group: "relay.inbound", topic: common.topics.inbound, logger: logger)
    let acks = try backbone.consumer(common, group: "relay.acks", topic: common.topics.acks, background: true, logger: logger)
    return backbone.closers + [
        ConsumerLoop(name: "relay.inbound", consumer: inbound, maxBatch: configuration.batchSize, logger: logger,
                     handle: router.routeInbound),
        ConsumerLoop(name: "relay.acks", consumer: acks, maxBatch: configuration.batchSize, logger: logger,
                     handle: router.routeAcks),
        OperationalServer.application(configuration: common, readiness: backbone.readiness, logger: logger,
                                      onServerRunning: onServerRunning),
    ]
}
