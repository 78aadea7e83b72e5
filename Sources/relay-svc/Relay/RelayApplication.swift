import Hummingbird
import Logging
import ParleyKafka
import ParleyRedis
import ParleyServiceKit
import ServiceLifecycle

/// Builds relay-svc: two consumer groups (inbound, acks), one producer, one Redis pool and the
/// operational HTTP server, in the order the ServiceGroup must stop them (reverse).
public func buildRelay(_ configuration: RelayConfiguration, logger: Logger,
                       onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> [any Service] {
    let common = configuration.common
    try await TopicSetup.ensure(TopicSetup.shared(common.topics, partitions: common.topicPartitions),
                                kafka: common.kafka, logger: logger)
    let redis = RedisClient(configuration: configuration.redis.redis, logger: logger)
    try await retryingAtStart("connecting to Redis", logger: logger) { try await redis.ping() }
    let producer = try KafkaProducer(configuration: common.kafka, logger: logger)
    let router = Router(topics: common.topics, redis: redis, producer: producer,
                        dedupTTL: configuration.dedupTTL, logger: logger)
    let group = common.topics.prefix + "relay"
    let inbound = try KafkaConsumer(configuration: common.kafka, groupID: group + ".inbound",
                                    topics: [common.topics.inbound], logger: logger)
    let acks = try KafkaConsumer(configuration: common.kafka, groupID: group + ".acks",
                                 topics: [common.topics.acks], logger: logger)

    let readiness = Readiness()
    readiness.add("chat.inbound assigned") { inbound.isAssigned }
    readiness.add("chat.acks assigned") { acks.isAssigned }
    readiness.add("redis") { (try? await redis.ping()) != nil }
    let http = OperationalServer.application(configuration: common, readiness: readiness, logger: logger,
                                             onServerRunning: onServerRunning)
    return [
        ClosingService { await producer.shutdown(timeout: .seconds(5)) },
        ClosingService { await redis.close() },
        ConsumerLoop(name: "relay.inbound", consumer: inbound, maxBatch: configuration.batchSize, logger: logger,
                     handle: router.routeInbound),
        ConsumerLoop(name: "relay.acks", consumer: acks, maxBatch: configuration.batchSize, logger: logger,
                     handle: router.routeAcks),
        http,
    ]
}
