import CRDKafka
import Logging
import ServiceLifecycle
import Synchronization

/// Creates, lists and deletes topics and reads their partition counts. Every blocking wait runs on the
/// admin client's own thread. As a `Service`, ``run()`` shuts it down on graceful shutdown or
/// cancellation.
public final class KafkaAdmin: Sendable, Service {
    let client: RDClient
    private let shared: AdminShared
    private let logger: Logger

    /// Creates the admin client and starts its thread.
    public init(configuration: KafkaConfiguration, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "parley.kafka.client"] = "\(configuration.clientID)"
        let shared = AdminShared()
        client = try RDClient(type: RD_KAFKA_PRODUCER, properties: configuration.adminProperties,
                              wake: try WakePipe(), worker: AdminWorker(shared: shared, logger: logger))
        self.shared = shared
        self.logger = logger
    }

    deinit { client.requestStop() }

    /// Creates the topics. A topic that already exists counts as success (its partition count
    /// is not checked). Throws ``KafkaError`` naming the first topic that failed, or
    /// ``KafkaError/Code/timedOut`` if the broker did not answer within `timeout`.
    public func createTopics(_ topics: [KafkaTopicSpec], timeout: Duration) async throws {
        guard !topics.isEmpty else { return }
        try await submit(AdminJob(what: "create topics", work: .request(AdminOperations.createTopics(topics, timeout: timeout))))
        logger.debug("Kafka topics ready", metadata: ["parley.topics": "\(topics.map(\.name).joined(separator: ","))"])
    }

    /// Deletes the topics. A topic that does not exist counts as success.
    public func deleteTopics(_ names: [String], timeout: Duration) async throws {
        guard !names.isEmpty else { return }
        try await submit(AdminJob(what: "delete topics", work: .request(AdminOperations.deleteTopics(names, timeout: timeout))))
    }

    /// The number of partitions `topic` has, from the broker's metadata.
    public func partitionCount(of topic: String, timeout: Duration) async throws -> Int32 {
        let count = Mutex<Int32>(0)
        try await submit(AdminJob(what: "read metadata", work: .call { kafka in
            let found = try AdminOperations.partitionCount(kafka, topic, timeout: timeout)
            count.withLock { $0 = found }
        }))
        return count.withLock { $0 }
    }

    /// Each partition's end (high watermark: the offset its next record will get). A broker may
    /// answer less than the true end (Tansu answers the last record batch's base offset + 1).
    public func endOffsets(of topic: String, timeout: Duration) async throws -> [Int32: Int64] {
        let ends = Mutex<[Int32: Int64]>([:])
        try await submit(AdminJob(what: "read end offsets", work: .call { kafka in
            let found = try AdminOperations.endOffsets(kafka, topic, timeout: timeout)
            ends.withLock { $0 = found }
        }))
        return ends.withLock { $0 }
    }

    /// The names of the cluster's topics that start with `prefix`, from the broker's metadata.
    public func topicNames(prefix: String, timeout: Duration) async throws -> [String] {
        let names = Mutex<[String]>([])
        try await submit(AdminJob(what: "read metadata", work: .call { kafka in
            let found = try AdminOperations.topicNames(kafka, timeout: timeout).filter { $0.hasPrefix(prefix) }
            names.withLock { $0 = found }
        }))
        return names.withLock { $0 }
    }

    /// Fails pending operations and destroys the handle; later calls throw
    /// ``KafkaError/Code/shutDown``. Idempotent.
    public func shutdown() async {
        await client.close()
    }

    /// Runs until graceful shutdown or cancellation, then shuts the admin client down; returns
    /// once it is closed.
    public func run() async {
        await client.runUntilClosed()
    }

    private func submit(_ job: AdminJob) async throws {
        guard shared.add(job) else { throw KafkaError.shutDown(job.what) }
        client.wake.signal()
        try await job.promise.value()
    }
}
