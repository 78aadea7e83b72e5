import Logging
import ParleyBackend
import ParleyServiceKit
import ServiceLifecycle

/// Builds relay-svc: the consumer groups on chat.inbound and chat.signals (typing), the
/// producer, Redis and the operational HTTP server, in the order the ServiceGroup must stop
/// them (reverse).
public func buildRelay(_ configuration: RelayConfiguration, logger: Logger,
                       onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let common = configuration.common
    let backbone = try await ServiceBackbone.start(common, redis: configuration.redis, logger: logger)
    // The topics exist now; ensure(partitionsOf:) answers the count whenever it is asked for one.
    let inboxPartitions = try await TopicSetup.ensure([], kafka: common.kafka, logger: logger, partitionsOf: common.topics.inbox)!
    let router = MessageRouter(topics: common.topics, redis: backbone.redis, producer: backbone.producer,
                               dedupTTL: configuration.dedupTTL, retention: configuration.retention, groupLimits: configuration.groupLimits,
                               admissionLimits: configuration.admissionLimits, inboxPartitions: inboxPartitions, logger: logger)
    let inbound = try backbone.consumer(common, group: "relay.inbound", topic: common.topics.inbound, logger: logger)
    let typing = TypingRelay(topics: common.topics, redis: backbone.redis, producer: backbone.producer,
                             maxMembers: configuration.typingMaxMembers, logger: logger)
    let signals = try backbone.consumer(common, group: "relay.signals", topic: common.topics.signals, background: true, logger: logger)
    return backbone.closers + [
        ConsumerLoop(name: "relay.inbound", consumer: inbound, maxBatch: configuration.batchSize, logger: logger,
                     handle: router.routeInbound),
        ConsumerLoop(name: "relay.signals", consumer: signals, maxBatch: configuration.batchSize, logger: logger, handle: typing.relay),
        OperationalServer.application(configuration: common, readiness: backbone.readiness, logger: logger,
                                      onServerRunning: onServerRunning),
    ]
}
