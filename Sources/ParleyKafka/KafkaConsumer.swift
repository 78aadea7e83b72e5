import CRDKafka
import Foundation
import Logging
import ServiceLifecycle

/// A Kafka consumer: either a member of a consumer group (``init(configuration:groupID:topics:logger:)``)
/// or reading manually assigned partitions without a group
/// (``init(configuration:assignments:logger:)``).
///
/// Offsets are never committed automatically (`enable.auto.commit=false`,
/// `enable.auto.offset.store=false`): call ``commit(_:)`` after the records' effects are durable.
/// A group member without a committed offset starts at the oldest record
/// (`auto.offset.reset=earliest`).
///
/// The consumer's own thread polls librdkafka and fills a bounded buffer; ``nextBatch(maxCount:)``
/// and the `AsyncSequence` conformance read from it. The sequence ends after ``shutdown()`` and
/// throws ``KafkaError`` after a fatal client error. Partition EOF and transient errors (broker
/// down, unknown topic) are logged and do not end it. As a `Service`, ``run()`` shuts the
/// consumer down on graceful shutdown or cancellation.
///
/// Records of a partition are handed out without gaps: a fetched record past the next expected
/// offset makes the consumer seek back and read again until the missing one arrives (brokers
/// such as Tansu 0.6 can show a later record batch before an earlier one), for at most
/// ``KafkaConfiguration/offsetGapTimeout``; see ``offsetGaps``.
public final class KafkaConsumer: Sendable, AsyncSequence, Service {
    public typealias Element = KafkaRecord

    let client: RDClient
    let buffer: ConsumerBuffer
    private let shared: ConsumerShared

    /// Joins consumer group `groupID` and subscribes to `topics`. The group assigns partitions
    /// in the background: see ``isAssigned`` and ``waitUntilAssigned(timeout:)``.
    public convenience init(configuration: KafkaConfiguration, groupID: String, topics: [String], logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "parley.group"] = "\(groupID)"
        try self.init(configuration: configuration, groupID: groupID, mode: .group, sink: nil, logger: logger) { kafka in
            let entries = topics.map { (topic: $0, partition: RD_KAFKA_PARTITION_UA, offset: Int64(RD_KAFKA_OFFSET_INVALID)) }
            let result = withPartitionList(entries) { rd_kafka_subscribe(kafka, $0) }
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(result, "cannot subscribe to \(topics.joined(separator: ", "))")
            }
        }
    }

    /// Reads the given partitions without joining a group (no rebalancing, and ``commit(_:)``
    /// is pointless). `.end` starts at the high watermark queried when the consumer starts, so
    /// every record produced after ``waitUntilAssigned(timeout:)`` returned is seen.
    public convenience init(configuration: KafkaConfiguration, assignments: [(topic: String, partition: Int32, start: KafkaStartOffset)], logger: Logger) throws {
        try self.init(configuration: configuration, manual: assignments, sink: nil, logger: logger)
    }

    /// Reads the given partitions without joining a group, as
    /// ``init(configuration:assignments:logger:)``, and hands every batch to `sink` on the
    /// consumer's own thread as it is fetched (see ``KafkaRecordSink``); ``nextBatch(maxCount:)``
    /// then only returns nil at shutdown.
    public convenience init(configuration: KafkaConfiguration, assignments: [(topic: String, partition: Int32, start: KafkaStartOffset)],
                            sink: any KafkaRecordSink, logger: Logger) throws {
        try self.init(configuration: configuration, manual: assignments, sink: sink, logger: logger)
    }

    private convenience init(configuration: KafkaConfiguration, manual assignments: [(topic: String, partition: Int32, start: KafkaStartOffset)],
                             sink: (any KafkaRecordSink)?, logger: Logger) throws {
        // librdkafka's consumer_poll needs a group object even for manual assignment; a
        // private, never-joined group id provides one.
        let groupID = "\(configuration.clientID)-assign-\(UUID().uuidString.prefix(8).lowercased())"
        let parts = assignments.map { AssignedPartition(topic: $0.topic, partition: $0.partition, start: $0.start) }
        try self.init(configuration: configuration, groupID: groupID, mode: .manual(parts), sink: sink, logger: logger) { _ in }
    }

    private init(configuration: KafkaConfiguration, groupID: String, mode: ConsumerWorker.Mode, sink: (any KafkaRecordSink)?, logger: Logger,
                 subscribe: (OpaquePointer) throws -> Void) throws {
        var logger = logger
        logger[metadataKey: "parley.kafka.client"] = "\(configuration.clientID)"
        let wake = try WakePipe()
        buffer = ConsumerBuffer(capacity: configuration.consumerBufferSize) { wake.signal() }
        shared = ConsumerShared()
        let worker = ConsumerWorker(mode: mode, configuration: configuration, buffer: buffer, sink: sink, shared: shared, logger: logger)
        client = try RDClient(
            type: RD_KAFKA_CONSUMER,
            properties: configuration.consumerProperties(groupID: groupID, autoOffsetReset: "earliest"),
            wake: wake, worker: worker,
            configure: { conf in
                rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                    guard let rk, let context = RDClientContext.from(opaque) else { return }
                    context.worker.rebalance(rk, err, partitions)
                }
            },
            prepare: { try subscribe($0.kafka) })
    }

    deinit {
        client.requestStop()
    }

    /// Waits for at least one record, then returns those already fetched, at most `maxCount`,
    /// in fetch order (per partition, offset order). `nil` once the consumer was shut down;
    /// throws ``KafkaError`` after a fatal error and `CancellationError` if the task is cancelled.
    public func nextBatch(maxCount: Int) async throws -> [KafkaRecord]? {
        try await buffer.next(maxCount: maxCount)
    }

    /// Commits, per partition, the highest offset among `records` + 1, and returns when the
    /// broker confirmed. Throws ``KafkaError`` if the commit failed (e.g. the partition was
    /// revoked by a rebalance: its records will be delivered again to the new owner).
    public func commit(_ records: [KafkaRecord]) async throws {
        var next: [TopicPartition: Int64] = [:]
        for record in records {
            let key = TopicPartition(topic: record.topic, partition: record.partition)
            next[key] = Swift.max(next[key] ?? Int64.min, record.offset + 1)
        }
        guard !next.isEmpty else { return }
        let offsets = next.map { (topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) }
        let (id, promise) = shared.registerCommit()
        do {
            // The result is served on the consumer's thread, which fulfills the promise.
            let err = try client.withHandles("commit") { handles in
                withPartitionList(offsets) { list in
                    rd_kafka_commit_queue(handles.kafka, list, handles.replies, { rk, err, offsets, opaque in
                        guard let rk, let context = RDClientContext.from(rd_kafka_opaque(rk)) else { return }
                        context.worker.commitResult(err, offsets, UInt(bitPattern: opaque))
                    }, UnsafeMutableRawPointer(bitPattern: id))
                }
            }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "cannot commit offsets") }
        } catch {
            _ = shared.removeCommit(id)
            throw error
        }
        try await promise.value()
    }

    /// True while the consumer holds an assignment: for a group member, between an assignment
    /// and the next revocation (so false again during a rebalance); for manual assignment, once
    /// the partitions were assigned at start. Meant for readiness checks.
    /// ``lag`` and ``offsetGaps`` together, as a ``KafkaRecordSink`` gets them with each batch.
    public var status: KafkaConsumerStatus { shared.status }

    public var isAssigned: Bool { shared.isAssigned }

    /// Waits until ``isAssigned`` is true; throws ``KafkaError/Code/timedOut`` after `timeout`,
    /// or ``KafkaError/Code/shutDown`` if the consumer ends first.
    public func waitUntilAssigned(timeout: Duration) async throws {
        let shared = self.shared
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await shared.untilAssigned() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw KafkaError(code: .timedOut, message: "no partitions were assigned within \(timeout)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// The partitions currently assigned to this consumer, sorted.
    public var assignedPartitions: [(topic: String, partition: Int32)] {
        shared.partitions
            .sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
            .map { (topic: $0.topic, partition: $0.partition) }
    }

    /// Records not yet handed to the application: the sum over assigned partitions of (high
    /// watermark − position), where the position counts records still in this consumer's buffer
    /// as unread. Refreshed about once a second from librdkafka's cached fetch state; `nil`
    /// until known.
    public var lag: Int64? { shared.lag }

    /// Offset gaps seen so far: `found` counts fetched records past a missing offset (each made
    /// the consumer seek back), `skipped` the gaps still open after
    /// ``KafkaConfiguration/offsetGapTimeout``, whose missing offsets were never handed out.
    public var offsetGaps: (found: Int, skipped: Int) { shared.offsetGaps }

    /// Leaves the group (`rd_kafka_consumer_close`, bounded by the session timeout + 5 s),
    /// destroys the handle and ends the sequence. Idempotent; concurrent calls all wait.
    public func shutdown() async {
        await client.close()
    }

    /// Runs until graceful shutdown or cancellation, then shuts the consumer down (see
    /// ``shutdown()``); returns once it is closed. The consumer works without it: `run()` only
    /// ties its end to a `ServiceGroup` or a parent task.
    public func run() async {
        await client.runUntilClosed()
    }

    /// Iterates records one at a time (``nextBatch(maxCount:)`` with a count of 1).
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer

        /// The next record; `nil` after shutdown.
        public mutating func next() async throws -> KafkaRecord? {
            try await consumer.nextBatch(maxCount: 1)?.first
        }
    }

    /// An iterator over the consumer's records.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: self) }
}
