import Logging
import ParleyKafka
import ParleyRedis
import ParleyServiceKit
import ServiceLifecycle

/// Builds presence-svc: the presence.events consumer, the dead-edge sweeper, a producer for
/// presence.changes and query answers, Redis, and the operational HTTP server.
public func buildPresence(_ configuration: PresenceConfiguration, logger: Logger,
                          onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let common = configuration.common
    try await TopicSetup.ensure(TopicSetup.shared(common.topics, partitions: common.topicPartitions),
                                kafka: common.kafka, logger: logger)
    let redis = RedisClient(configuration: configuration.redis.redis, logger: logger)
    try await retryingAtStart("connecting to Redis", logger: logger) { try await redis.ping() }
    let producer = try KafkaProducer(configuration: common.kafka, logger: logger)
    let store = PresenceStore(topics: common.topics, redis: redis, producer: producer, logger: logger)
    let events = try KafkaConsumer(configuration: common.kafka, groupID: common.topics.prefix + "presence",
                                   topics: [common.topics.presenceEvents], logger: logger)
    let readiness = Readiness()
    readiness.add("presence.events assigned") { events.isAssigned }
    readiness.add("redis") { (try? await redis.ping()) != nil }
    return [
        ClosingService { await producer.shutdown(timeout: .seconds(5)) },
        ClosingService { await redis.close() },
        ConsumerLoop(name: "presence.events", consumer: events, logger: logger, handle: store.apply),
        EdgeSweeper(store: store, timeout: configuration.edgeTimeout, interval: configuration.sweepInterval, logger: logger),
        OperationalServer.application(configuration: common, readiness: readiness, logger: logger,
                                      onServerRunning: onServerRunning),
    ]
}
