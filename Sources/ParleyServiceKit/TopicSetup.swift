import Logging
import ParleyKafka
import ParleyProtocol

/// Creates the topics a process uses (idempotent: existing topics are left as they are).
public enum TopicSetup {
    /// Retention of the per-edge deliver topics: they are read from their end, so minutes suffice.
    public static let deliverRetention = "3600000"

    /// Retention of `chat.signals`: typing older than 5 s is dropped anyway.
    public static let signalsRetention = "60000"

    /// The shared topics with `partitions` partitions each (`chat.signals` with a short retention).
    public static func shared(_ topics: Topics, partitions: Int32) -> [KafkaTopicSpec] {
        topics.shared.map {
            KafkaTopicSpec(name: $0, partitions: partitions, config: $0 == topics.signals ? ["retention.ms": signalsRetention] : [:])
        }
    }

    /// An edge's deliver topic: one partition, short retention.
    public static func deliver(_ topics: Topics, edge: String) -> KafkaTopicSpec {
        KafkaTopicSpec(name: topics.deliver(edge: edge), partitions: 1, config: ["retention.ms": deliverRetention])
    }

    /// Creates `specs`, retrying while the broker is starting.
    public static func ensure(_ specs: [KafkaTopicSpec], kafka: KafkaConfiguration, logger: Logger) async throws {
        _ = try await ensure(specs, kafka: kafka, logger: logger, partitionsOf: nil)
    }

    /// Creates `specs` and returns the partition count of `topic` (which may differ from
    /// `--topic-partitions` when another process or an operator created it), with one admin client.
    public static func ensure(_ specs: [KafkaTopicSpec], kafka: KafkaConfiguration, logger: Logger,
                              partitionsOf topic: String?) async throws -> Int32? {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        do {
            try await retryingAtStart("creating topics", logger: logger) {
                try await admin.createTopics(specs, timeout: .seconds(10))
            }
            var partitions: Int32?
            if let topic {
                partitions = try await retryingAtStart("reading metadata of \(topic)", logger: logger) {
                    try await admin.partitionCount(of: topic, timeout: .seconds(10))
                }
            }
            await admin.shutdown()
            return partitions
        } catch {
            await admin.shutdown()
            throw error
        }
    }
}
