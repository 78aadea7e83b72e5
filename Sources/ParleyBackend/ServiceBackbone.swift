import Logging
import ParleyKafka
import ParleyRedis
import ParleyServiceKit
import ServiceLifecycle

/// What relay-svc, presence-svc and offline-svc each start with: the shared topics created,
/// a Redis pool that answered, a producer, and readiness that includes Redis.
public struct ServiceBackbone: Sendable {
    public let redis: RedisClient
    public let producer: KafkaProducer
    public let readiness = Readiness()

    /// Creates the shared topics and connects to Redis, retrying while either is starting.
    public static func start(_ common: CommonConfiguration, redis configuration: RedisSettingsConfiguration,
                             logger: Logger) async throws -> ServiceBackbone {
        try await TopicSetup.ensure(TopicSetup.shared(common.topics, partitions: common.topicPartitions),
                                    kafka: common.kafka, logger: logger)
        let redis = RedisClient(configuration: configuration.redis, logger: logger)
        // A refused AUTH (wrong user or password) does not heal by waiting: the process stops.
        try await retryingAtStart("connecting to Redis", logger: logger, until: { ($0 as? RedisError)?.code == .authentication }) {
            try await redis.ping()
        }
        let producer = try KafkaProducer(configuration: common.kafka, headers: ParleyTracing.recordHeaders, logger: logger)
        let backbone = ServiceBackbone(redis: redis, producer: producer)
        backbone.readiness.add("redis") { (try? await redis.ping()) != nil }
        return backbone
    }

    /// Closes the producer (flushing it) and the Redis pool at shutdown. Put them first in the
    /// ServiceGroup so they stop after everything that uses them.
    public var closers: [any Service] {
        [producer, ClosingService { await redis.close() }]
    }

    /// A consumer in `group` of `topic` whose assignment is part of readiness; `background` for
    /// one off the message path (see ``KafkaConfiguration/background``).
    public func consumer(_ common: CommonConfiguration, group: String, topic: String, background: Bool = false,
                         logger: Logger) throws -> KafkaConsumer {
        let consumer = try KafkaConsumer(configuration: background ? common.kafka.background : common.kafka,
                                         groupID: common.topics.prefix + group,
                                         topics: [topic], logger: logger)
        readiness.add("\(topic) assigned") { consumer.isAssigned }
        return consumer
    }
}
