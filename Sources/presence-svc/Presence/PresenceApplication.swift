import Logging
import ParleyBackend
import ParleyKafka
import ParleyServiceKit
import ServiceLifecycle

/// Builds presence-svc: the presence.events consumer, the dead-edge sweeper (with an admin client
/// that deletes retired edges' deliver topics), the producer for presence.changes and query
/// answers, Redis, and the operational HTTP server.
public func buildPresence(_ configuration: PresenceConfiguration, logger: Logger,
                          onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let common = configuration.common
    let backbone = try await ServiceBackbone.start(common, redis: configuration.redis, logger: logger)
    let store = PresenceStore(topics: common.topics, redis: backbone.redis, producer: backbone.producer, logger: logger,
                              maxUserSessions: configuration.maxUserSessions)
    let events = try backbone.consumer(common, group: "presence", topic: common.topics.presenceEvents, logger: logger)
    let admin = try KafkaAdmin(configuration: common.kafka, logger: logger)
    let reaper = DeliverTopicReaper(topics: common.topics, redis: backbone.redis, admin: admin,
                                    grace: configuration.deliverTopicGrace, logger: logger)
    // The admin client stops after the sweeper that uses it.
    return backbone.closers + [admin,
        ConsumerLoop(name: "presence.events", consumer: events, logger: logger, handle: store.apply),
        EdgeSweeper(store: store, reaper: reaper, timeout: configuration.edgeTimeout, interval: configuration.sweepInterval,
                    logger: logger),
        OperationalServer.application(configuration: common, readiness: backbone.readiness, logger: logger,
                                      onServerRunning: onServerRunning),
    ]
}
