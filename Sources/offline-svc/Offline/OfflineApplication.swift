import Logging
import ParleyKafka
import ParleyRedis
import ParleyServiceKit
import ServiceLifecycle

/// Builds offline-svc: consumers of chat.inbox (append), chat.acks (remove) and
/// presence.changes (replay), a producer for replays, Redis, and the operational HTTP server.
public func buildOffline(_ configuration: OfflineConfiguration, logger: Logger,
                         onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let common = configuration.common
    try await TopicSetup.ensure(TopicSetup.shared(common.topics, partitions: common.topicPartitions),
                                kafka: common.kafka, logger: logger)
    let redis = RedisClient(configuration: configuration.redis.redis, logger: logger)
    try await retryingAtStart("connecting to Redis", logger: logger) { try await redis.ping() }
    let producer = try KafkaProducer(configuration: common.kafka, logger: logger)
    let inbox = Inbox(topics: common.topics, redis: redis, producer: producer, maxMessages: configuration.inboxMax,
                      retention: configuration.inboxRetention, replayBatch: configuration.replayBatch, logger: logger)
    let group = common.topics.prefix + "offline"
    let messages = try KafkaConsumer(configuration: common.kafka, groupID: group + ".inbox",
                                     topics: [common.topics.inbox], logger: logger)
    let acks = try KafkaConsumer(configuration: common.kafka, groupID: group + ".acks",
                                 topics: [common.topics.acks], logger: logger)
    let changes = try KafkaConsumer(configuration: common.kafka, groupID: group + ".presence",
                                    topics: [common.topics.presenceChanges], logger: logger)
    let readiness = Readiness()
    readiness.add("chat.inbox assigned") { messages.isAssigned }
    readiness.add("chat.acks assigned") { acks.isAssigned }
    readiness.add("presence.changes assigned") { changes.isAssigned }
    readiness.add("redis") { (try? await redis.ping()) != nil }
    return [
        ClosingService { await producer.shutdown(timeout: .seconds(5)) },
        ClosingService { await redis.close() },
        ConsumerLoop(name: "offline.inbox", consumer: messages, logger: logger, handle: inbox.append),
        ConsumerLoop(name: "offline.acks", consumer: acks, logger: logger, handle: inbox.remove),
        ConsumerLoop(name: "offline.presence", consumer: changes, logger: logger, handle: inbox.replay),
        OperationalServer.application(configuration: common, readiness: readiness, logger: logger,
                                      onServerRunning: onServerRunning),
    ]
}
