import CRDKafka
import Foundation
import Logging
import Synchronization

/// A Kafka consumer: either a member of a consumer group (``init(configuration:groupID:topics:logger:)``)
/// or reading manually assigned partitions without a group
/// (``init(configuration:assignments:logger:)``).
///
/// Offsets are never committed automatically (`enable.auto.commit=false`,
/// `enable.auto.offset.store=false`): call ``commit(_:)`` after the records' effects are durable.
/// A group member without a committed offset starts at the oldest record
/// (`auto.offset.reset=earliest`).
///
/// A dedicated thread polls librdkafka and fills a bounded buffer; ``nextBatch(maxCount:)`` and
/// the `AsyncSequence` conformance read from it. The sequence ends after ``shutdown()`` and
/// throws ``KafkaError`` after a fatal client error. Partition EOF and transient errors (broker
/// down, unknown topic) are logged and do not end it.
///
/// Records of a partition are handed out without gaps: a fetched record past the next expected
/// offset makes the consumer seek back and read again until the missing one arrives (brokers
/// such as Tansu 0.6 can show a later record batch before an earlier one), for at most
/// ``KafkaConfiguration/offsetGapTimeout``; see ``offsetGaps``.
public final class KafkaConsumer: Sendable, AsyncSequence {
    public typealias Element = KafkaRecord

    private let core: ConsumerCore

    /// Joins consumer group `groupID` and subscribes to `topics`. The group assigns partitions
    /// in the background: see ``isAssigned`` and ``waitUntilAssigned(timeout:)``.
    public init(configuration: KafkaConfiguration, groupID: String, topics: [String], logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "parley.kafka.client"] = "\(configuration.clientID)"
        logger[metadataKey: "parley.group"] = "\(groupID)"
        core = try ConsumerCore(configuration: configuration, groupID: groupID, mode: .group(topics), logger: logger)
    }

    /// Reads the given partitions without joining a group (no rebalancing, and ``commit(_:)``
    /// is pointless). `.end` starts at the high watermark queried when the consumer starts, so
    /// every record produced after ``waitUntilAssigned(timeout:)`` returned is seen.
    public init(configuration: KafkaConfiguration, assignments: [(topic: String, partition: Int32, start: KafkaStartOffset)], logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "parley.kafka.client"] = "\(configuration.clientID)"
        // librdkafka's consumer_poll needs a group object even for manual assignment; a
        // private, never-joined group id provides one.
        let groupID = "\(configuration.clientID)-assign-\(UUID().uuidString.prefix(8).lowercased())"
        let parts = assignments.map { AssignedPartition(topic: $0.topic, partition: $0.partition, start: $0.start) }
        core = try ConsumerCore(configuration: configuration, groupID: groupID, mode: .manual(parts), logger: logger)
    }

    deinit {
        core.requestShutdown()
    }

    /// Waits for at least one record, then returns those already fetched, at most `maxCount`,
    /// in fetch order (per partition, offset order). `nil` once the consumer was shut down;
    /// throws ``KafkaError`` after a fatal error and `CancellationError` if the task is cancelled.
    public func nextBatch(maxCount: Int) async throws -> [KafkaRecord]? {
        try await core.buffer.next(maxCount: maxCount)
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
        try await core.commit(next.map { (topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) })
    }

    /// True while the consumer holds an assignment: for a group member, between an assignment
    /// and the next revocation (so false again during a rebalance); for manual assignment, once
    /// the partitions were assigned at start. Meant for readiness checks.
    public var isAssigned: Bool { core.assignment.withLock { $0.assigned } }

    /// Waits until ``isAssigned`` is true; throws ``KafkaError/Code/timedOut`` after `timeout`,
    /// or if the consumer ends first.
    public func waitUntilAssigned(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isAssigned {
            if core.buffer.isFinished {
                throw KafkaError.shutDown("waitUntilAssigned")
            }
            guard ContinuousClock.now < deadline else {
                throw KafkaError(code: .timedOut, message: "no partitions were assigned within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The partitions currently assigned to this consumer, sorted.
    public var assignedPartitions: [(topic: String, partition: Int32)] {
        core.assignment.withLock { $0.partitions }
            .sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
            .map { (topic: $0.topic, partition: $0.partition) }
    }

    /// Records not yet handed to the application: the sum over assigned partitions of (high
    /// watermark − position), where the position counts records still in this consumer's buffer
    /// as unread. Refreshed about once a second from librdkafka's cached fetch state; `nil`
    /// until known.
    public var lag: Int64? { core.lag.withLock { $0 } }

    /// Offset gaps seen so far: `found` counts fetched records past a missing offset (each made
    /// the consumer seek back), `skipped` the gaps still open after
    /// ``KafkaConfiguration/offsetGapTimeout``, whose missing offsets were never handed out.
    public var offsetGaps: (found: Int, skipped: Int) { core.gapCounts.withLock { ($0.found, $0.skipped) } }

    /// Leaves the group (`rd_kafka_consumer_close`, bounded by the session timeout + 5 s),
    /// destroys the handle and ends the sequence. Idempotent; concurrent calls all wait.
    public func shutdown() async {
        core.requestShutdown()
        try? await core.closed.value()
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

struct AssignedPartition: Sendable {
    let topic: String
    let partition: Int32
    let start: KafkaStartOffset
}

struct Assignment: Sendable {
    var assigned = false
    var partitions: Set<TopicPartition> = []
}

/// The consumer's state, shared between callers, the consumer thread and librdkafka callbacks.
final class ConsumerCore: RDClientEvents {
    enum Mode: Sendable {
        case group([String])
        case manual([AssignedPartition])
    }

    let logger: Logger
    let mode: Mode
    let closeTimeout: Duration
    let wake: WakePipe
    let buffer: ConsumerBuffer
    let assignment = Mutex(Assignment())
    /// Partitions revoked by a rebalance callback since the poll loop last looked (both run on
    /// the consumer thread; the Mutex only satisfies Sendable).
    private let revokedSincePoll = Mutex<Set<TopicPartition>>([])
    let lag = Mutex<Int64?>(nil)
    /// Owned by the consumer thread (the poll loop and the rebalance callback it serves).
    private let gapGuard: Mutex<OffsetGapGuard>
    let gapCounts = Mutex((found: 0, skipped: 0))
    let commits = Mutex(PromiseTable<Void>())
    let closed = KafkaPromise<Void>()
    private let stopRequested = Mutex(false)
    private let fatalFailure = Mutex<KafkaError?>(nil)
    /// Set once the client exists (right after init's rd_kafka_new).
    private let clientBox = Mutex<RDClient?>(nil)
    private let commitQueue = Mutex<RDPointer?>(nil)

    init(configuration: KafkaConfiguration, groupID: String, mode: Mode, logger: Logger) throws {
        self.logger = logger
        self.mode = mode
        closeTimeout = configuration.sessionTimeout + .seconds(5)
        gapGuard = Mutex(OffsetGapGuard(timeout: configuration.offsetGapTimeout))
        let wake = try WakePipe()
        self.wake = wake
        buffer = ConsumerBuffer(capacity: configuration.consumerBufferSize) { wake.signal() }

        let context = RDClientContext(logger: logger, events: self)
        let client = try RDClient(
            type: RD_KAFKA_CONSUMER,
            properties: configuration.consumerProperties(groupID: groupID, autoOffsetReset: "earliest"),
            context: context
        ) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let rk, let context = RDClientContext.from(opaque) else { return }
                context.events.rebalance(rk, err, partitions)
            }
        }
        let handle = client.handle.raw
        rd_kafka_poll_set_consumer(handle)  // errors and rebalances arrive through consumer_poll
        guard let queue = rd_kafka_queue_new(handle), let consumerQueue = rd_kafka_queue_get_consumer(handle) else {
            client.destroy()
            throw KafkaError(code: .state, message: "cannot create consumer queues")
        }
        // Wake the thread when a fetched record, rebalance, commit result or log line arrives.
        var payload: UInt8 = 1
        rd_kafka_queue_io_event_enable(consumerQueue, wake.writeFD, &payload, 1)
        rd_kafka_queue_io_event_enable(queue, wake.writeFD, &payload, 1)
        rd_kafka_queue_io_event_enable(client.logQueue.raw, wake.writeFD, &payload, 1)
        rd_kafka_queue_destroy(consumerQueue)  // drops our reference; the queue lives on
        commitQueue.withLock { $0 = RDPointer(raw: queue) }

        if case .group(let topics) = mode {
            let result = withPartitionList(topics.map { (topic: $0, partition: RD_KAFKA_PARTITION_UA, offset: Int64(RD_KAFKA_OFFSET_INVALID)) }) {
                rd_kafka_subscribe(handle, $0)
            }
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
                rd_kafka_queue_destroy(queue)
                client.destroy()
                throw KafkaError(result, "cannot subscribe to \(topics.joined(separator: ", "))")
            }
        }
        clientBox.withLock { $0 = client }
        let commitQueuePointer = RDPointer(raw: queue)
        startKafkaThread(name: "parley-kafka-consumer") { [self] in run(client, commitQueue: commitQueuePointer.raw) }
    }

    func requestShutdown() {
        stopRequested.withLock { $0 = true }
        wake.signal()
    }

    private var shouldStop: Bool { stopRequested.withLock { $0 } }

    // MARK: Commit

    func commit(_ offsets: [(topic: String, partition: Int32, offset: Int64)]) async throws {
        guard let client = clientBox.withLock({ $0 }) else { throw KafkaError.shutDown("commit") }
        let (id, promise) = commits.withLock { $0.register() }
        do {
            let err = try client.withHandle("commit") { handle in
                guard let queue = commitQueue.withLock({ $0 }) else { return RD_KAFKA_RESP_ERR__DESTROY }
                return withPartitionList(offsets) { list in
                    rd_kafka_commit_queue(handle, list, queue.raw, { rk, err, offsets, opaque in
                        guard let rk, let context = RDClientContext.from(rd_kafka_opaque(rk)) else { return }
                        context.events.commitResult(err, offsets, UInt(bitPattern: opaque))
                    }, UnsafeMutableRawPointer(bitPattern: id))
                }
            }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "cannot commit offsets") }
        } catch {
            _ = commits.withLock { $0.remove(id) }
            throw error
        }
        try await promise.value()
    }

    func commitResult(_ err: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ id: UInt) {
        guard let promise = commits.withLock({ $0.remove(id) }) else { return }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka commit failed", metadata: ["parley.kafka.error": "\(KafkaError.Code(err).name)"])
            promise.fulfill(.failure(KafkaError(err, "offset commit failed")))
            return
        }
        if let offsets, let failed = readPartitionList(offsets).first(where: { $0.err != RD_KAFKA_RESP_ERR_NO_ERROR }) {
            logger.warning("Kafka commit failed", metadata: [
                "parley.topic": "\(failed.topic)", "parley.partition": "\(failed.partition)",
                "parley.kafka.error": "\(KafkaError.Code(failed.err).name)",
            ])
            promise.fulfill(.failure(KafkaError(failed.err, "offset commit failed for \(failed.topic)[\(failed.partition)]")))
            return
        }
        promise.fulfill(.success(()))
    }

    // MARK: Callbacks (consumer thread)

    /// Removes from `batch` the records of partitions revoked since the last call.
    private func dropRevoked(from batch: inout [KafkaRecord]) {
        let revoked = revokedSincePoll.withLock { revoked in
            defer { revoked.removeAll() }
            return revoked
        }
        guard !revoked.isEmpty else { return }
        batch.removeAll { revoked.contains(TopicPartition(topic: $0.topic, partition: $0.partition)) }
    }

    func rebalance(_ handle: OpaquePointer, _ err: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        let list = partitions.map { readPartitionList($0) } ?? []
        let changed = Set(list.map { TopicPartition(topic: $0.topic, partition: $0.partition) })
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let description = list.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ",")
        gapGuard.withLock { $0.forget(changed) }
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let error = takeError(rd_kafka_incremental_assign(handle, partitions)) {
                    logger.error("Kafka incremental assign failed: \(error)")
                }
            } else {
                let result = rd_kafka_assign(handle, partitions)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.error("Kafka assign failed", metadata: ["parley.kafka.error": "\(KafkaError.Code(result).name)"])
                }
            }
            assignment.withLock { state in
                state.partitions = cooperative ? state.partitions.union(changed) : changed
                state.assigned = true
            }
            logger.info("Kafka partitions assigned", metadata: ["parley.partitions": "\(description)"])
        default:
            if err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
                logger.error("Kafka rebalance error", metadata: ["parley.kafka.error": "\(KafkaError.Code(err).name)"])
            }
            let lost = rd_kafka_assignment_lost(handle) != 0
            if cooperative {
                _ = takeError(rd_kafka_incremental_unassign(handle, partitions))
            } else {
                rd_kafka_assign(handle, nil)
            }
            let remaining = assignment.withLock { state -> Set<TopicPartition> in
                state.partitions = cooperative ? state.partitions.subtracting(changed) : []
                state.assigned = !state.partitions.isEmpty
                return state.partitions
            }
            let revoked = changed.subtracting(remaining)
            buffer.drop(revoked)
            revokedSincePoll.withLock { $0.formUnion(revoked) }
            logger.info("Kafka partitions revoked", metadata: [
                "parley.partitions": "\(description)", "parley.kafka.lost": "\(lost)",
            ])
        }
    }

    func clientError(_ handle: OpaquePointer, _ err: Int32, _ reason: String) {
        logClientError(logger, handle, err, reason, role: "consumer")
        if KafkaError.Code(rawValue: err) == .fatal {
            var text = [CChar](repeating: 0, count: 512)
            let underlying = rd_kafka_fatal_error(handle, &text, text.count)
            fail(KafkaError(code: .fatal, message: "consumer fatal error: \(cString(text))",
                            underlying: KafkaError(underlying, cString(text))))
        }
    }

    private func fail(_ error: KafkaError) {
        fatalFailure.withLock { if $0 == nil { $0 = error } }
        buffer.finish(failure: error)
    }

    // MARK: Consumer thread

    private func run(_ client: RDClient, commitQueue: OpaquePointer) {
        let handle = client.handle.raw
        if case .manual(let partitions) = mode, !shouldStop {
            let now = ContinuousClock.now
            buffer.push(assignManually(handle, partitions).filter { admit($0, handle, now: now) })
        }
        var mayHaveMore = true
        var lastLagUpdate = ContinuousClock.now - .seconds(10)
        let maxPerRound = 512
        while !shouldStop {
            wake.drain()
            client.serveLogs()
            rd_kafka_queue_poll_callback(commitQueue, 0)
            let failed = fatalFailure.withLock { $0 != nil }
            var fetched = 0
            if !failed {
                let room = min(buffer.space, maxPerRound)
                if room > 0 {
                    var batch: [KafkaRecord] = []
                    mayHaveMore = false
                    let now = ContinuousClock.now
                    while batch.count < room, let message = rd_kafka_consumer_poll(handle, 0) {
                        // A rebalance served inside that poll dropped the revoked partitions'
                        // buffered records; drop the ones this round already collected too, or
                        // committing them would move the offset past the dropped ones (loss).
                        dropRevoked(from: &batch)
                        if let record = handleMessage(message), admit(record, handle, now: now) {
                            batch.append(record)
                        }
                        rd_kafka_message_destroy(message)
                        if batch.count == room { mayHaveMore = true }
                        fetched += 1
                    }
                    if fetched > 0 && batch.count < room { mayHaveMore = true }  // an error message may precede more
                    if fetched == 0 { mayHaveMore = false }
                    dropRevoked(from: &batch)  // the last poll, which returned nothing, may have served a rebalance
                    buffer.push(batch)
                }
            }
            let openGaps = seekGaps(handle)
            let now = ContinuousClock.now
            if now - lastLagUpdate >= .seconds(1) {
                updateLag(handle)
                lastLagUpdate = now
            }
            if mayHaveMore && !failed && buffer.space > 0 { continue }
            wake.wait(timeoutMS: openGaps ? 10 : 1000)
        }
        close(client, commitQueue: commitQueue)
    }

    /// Whether `record` may be handed out (see ``OffsetGapGuard``); a record past a new gap
    /// makes the partition seek back to the missing offset.
    private func admit(_ record: KafkaRecord, _ handle: OpaquePointer, now: ContinuousClock.Instant) -> Bool {
        let partition = TopicPartition(topic: record.topic, partition: record.partition)
        switch gapGuard.withLock({ $0.admit(partition, offset: record.offset, now: now) }) {
        case .accept:
            return true
        case .drop:
            return false
        case .seek(let missing):
            gapCounts.withLock { $0.found += 1 }
            logger.notice("Kafka offset gap, reading again", metadata: [
                "parley.topic": "\(record.topic)", "parley.partition": "\(record.partition)",
                "parley.kafka.missing": "\(missing)", "parley.offset": "\(record.offset)",
            ])
            seek(handle, partition, to: missing)
            return false
        }
    }

    /// Seeks again for gaps still open, moves past those open too long; true while gaps are open.
    private func seekGaps(_ handle: OpaquePointer) -> Bool {
        let (seeks, open) = gapGuard.withLock { gaps -> ([OffsetGapGuard.Seek], Bool) in
            guard gaps.hasOpenGaps else { return ([], false) }
            return (gaps.due(now: .now), gaps.hasOpenGaps)
        }
        for seek in seeks {
            if seek.skipped {
                gapCounts.withLock { $0.skipped += 1 }
                logger.warning("Kafka offset gap not filled in time; moving past it", metadata: [
                    "parley.topic": "\(seek.partition.topic)", "parley.partition": "\(seek.partition.partition)",
                    "parley.offset": "\(seek.offset)",
                ])
            }
            self.seek(handle, seek.partition, to: seek.offset)
        }
        return open
    }

    /// Starts an asynchronous seek; records fetched from the old position may still arrive and
    /// are dropped by the gap guard.
    private func seek(_ handle: OpaquePointer, _ partition: TopicPartition, to offset: Int64) {
        let error = withPartitionList([(topic: partition.topic, partition: partition.partition, offset: offset)]) {
            takeError(rd_kafka_seek_partitions(handle, $0, 0))
        }
        if let error {
            logger.warning("Kafka seek failed: \(error)", metadata: [
                "parley.topic": "\(partition.topic)", "parley.partition": "\(partition.partition)",
            ])
        }
    }

    /// Converts a polled message into a record; logs and drops errors and EOF markers.
    private func handleMessage(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaRecord? {
        let m = message.pointee
        let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let metadata: Logger.Metadata = [
                "parley.topic": "\(topic)", "parley.partition": "\(m.partition)",
                "parley.kafka.error": "\(KafkaError.Code(m.err).name)",
            ]
            switch m.err {
            case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                logger.trace("Kafka partition EOF", metadata: metadata)
            case RD_KAFKA_RESP_ERR__FATAL:
                fail(KafkaError(m.err, "consumer fatal error"))
            default:
                let text = m.payload.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: m.len), as: UTF8.self) } ?? ""
                logger.warning("Kafka consumer error: \(text)", metadata: metadata)
            }
            return nil
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        return KafkaRecord(
            topic: topic,
            partition: m.partition,
            offset: m.offset,
            key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
            value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? [],
            timestamp: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp)
    }

    /// Assigns the partitions, resolving `.end` to the high watermark at start, so that every
    /// record produced after ``KafkaConsumer/isAssigned`` became true is seen and none before.
    ///
    /// Tansu's ListOffsets(latest) answers the last record *batch's* base offset + 1, not the
    /// last offset + 1, so the queried end can point into the last batch (and so would
    /// `RD_KAFKA_OFFSET_END`, which uses the same request). The high watermark in Fetch responses
    /// is right, so: start at the queried end, wait for the first fetch response's high
    /// watermark, and have the gap guard drop records below it. Returns the records fetched
    /// meanwhile, for the caller to admit.
    private func assignManually(_ handle: OpaquePointer, _ partitions: [AssignedPartition]) -> [KafkaRecord] {
        var entries: [(topic: String, partition: Int32, offset: Int64)] = []
        var atEnd: Set<TopicPartition> = []
        for part in partitions {
            let offset: Int64
            switch part.start {
            case .beginning: offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
            case .offset(let value): offset = value
            case .end:
                var low: Int64 = 0
                var high: Int64 = 0
                let err = rd_kafka_query_watermark_offsets(handle, part.topic, part.partition, &low, &high, 5000)
                if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    offset = high
                } else {
                    logger.warning("Kafka watermark query failed; starting at the end as librdkafka resolves it", metadata: [
                        "parley.topic": "\(part.topic)", "parley.partition": "\(part.partition)",
                        "parley.kafka.error": "\(KafkaError.Code(err).name)",
                    ])
                    offset = Int64(RD_KAFKA_OFFSET_END)
                }
                atEnd.insert(TopicPartition(topic: part.topic, partition: part.partition))
            }
            entries.append((part.topic, part.partition, offset))
        }
        let err = withPartitionList(entries) { rd_kafka_assign(handle, $0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            fail(KafkaError(err, "cannot assign partitions"))
            return []
        }

        // Learn the true end of each `.end` partition from its first fetch response.
        var floors: [TopicPartition: Int64] = [:]
        var held: [KafkaRecord] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while !atEnd.isEmpty, ContinuousClock.now < deadline, !shouldStop {
            if held.count >= buffer.capacity {
                wake.wait(timeoutMS: 20)  // fetching continues in the background
            } else if let message = rd_kafka_consumer_poll(handle, 20) {
                if let record = handleMessage(message) { held.append(record) }
                rd_kafka_message_destroy(message)
            }
            for part in atEnd {
                var low: Int64 = -1
                var high: Int64 = -1
                if rd_kafka_get_watermark_offsets(handle, part.topic, part.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 {
                    floors[part] = high
                    atEnd.remove(part)
                }
            }
        }
        if !atEnd.isEmpty {
            logger.warning("Kafka high watermark not learned at start; old records may be delivered",
                           metadata: ["parley.partitions": "\(atEnd.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ","))"])
        }
        gapGuard.withLock { gaps in
            for (partition, floor) in floors { gaps.expect(partition, at: floor) }
        }

        assignment.withLock { state in
            state.partitions = Set(entries.map { TopicPartition(topic: $0.topic, partition: $0.partition) })
            state.assigned = true
        }
        logger.debug("Kafka partitions assigned manually", metadata: [
            "parley.partitions": "\(entries.map { "\($0.topic)[\($0.partition)]@\($0.offset)" }.joined(separator: ","))",
            "parley.kafka.floors": "\(floors.map { "\($0.key.topic)[\($0.key.partition)]>=\($0.value)" }.joined(separator: ","))",
        ])
        return held
    }

    private func updateLag(_ handle: OpaquePointer) {
        let partitions = assignment.withLock { $0.partitions }
        guard !partitions.isEmpty else {
            lag.withLock { $0 = nil }
            return
        }
        let buffered = buffer.countsByPartition()
        let positions = withPartitionList(partitions.map { (topic: $0.topic, partition: $0.partition, offset: Int64(RD_KAFKA_OFFSET_INVALID)) }) { list -> [(topic: String, partition: Int32, offset: Int64, err: rd_kafka_resp_err_t)] in
            guard rd_kafka_position(handle, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [] }
            return readPartitionList(list)
        }
        var total: Int64 = 0
        var known = false
        for position in positions {
            var low: Int64 = -1
            var high: Int64 = -1
            guard rd_kafka_get_watermark_offsets(handle, position.topic, position.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  high >= 0 else { continue }
            let key = TopicPartition(topic: position.topic, partition: position.partition)
            let next = position.offset >= 0 ? position.offset : low  // nothing consumed yet
            guard next >= 0 else { continue }
            total += max(0, high - next) + (buffered[key] ?? 0)
            known = true
        }
        lag.withLock { $0 = known ? total : nil }
    }

    /// Leaves the group within a bounded time and destroys the handle.
    private func close(_ client: RDClient, commitQueue: OpaquePointer) {
        let handle = client.handle.raw
        client.stopAccepting()
        logger.debug("Kafka consumer closing")
        if let closeQueue = rd_kafka_queue_new(handle) {
            if let error = takeError(rd_kafka_consumer_close_queue(handle, closeQueue)) {
                logger.warning("Kafka consumer close failed: \(error)")
            } else {
                let deadline = ContinuousClock.now + closeTimeout
                while rd_kafka_consumer_closed(handle) == 0 {
                    if ContinuousClock.now >= deadline {
                        logger.warning("Kafka consumer close timed out; destroying anyway")
                        break
                    }
                    // The close queue also carries fetched records and errors, which only the
                    // event API may serve (rd_kafka_queue_poll_callback asserts on them).
                    if let event = rd_kafka_queue_poll(closeQueue, 100) {
                        if rd_kafka_event_type(event) == RD_KAFKA_EVENT_REBALANCE {
                            rebalance(handle, rd_kafka_event_error(event), rd_kafka_event_topic_partition_list(event))
                        }
                        rd_kafka_event_destroy(event)
                    }
                    rd_kafka_queue_poll_callback(commitQueue, 0)
                    client.serveLogs()
                }
            }
            rd_kafka_queue_destroy(closeQueue)
        }
        rd_kafka_queue_poll_callback(commitQueue, 0)
        for promise in commits.withLock({ $0.removeAll() }) {
            promise.fulfill(.failure(.shutDown("commit")))
        }
        buffer.finish(failure: nil)
        assignment.withLock { $0 = Assignment() }
        lag.withLock { $0 = nil }
        self.commitQueue.withLock { $0 = nil }
        rd_kafka_queue_destroy(commitQueue)
        if let consumerQueue = rd_kafka_queue_get_consumer(handle) {
            rd_kafka_queue_io_event_enable(consumerQueue, -1, nil, 0)
            rd_kafka_queue_destroy(consumerQueue)
        }
        rd_kafka_queue_io_event_enable(client.logQueue.raw, -1, nil, 0)
        client.destroy(flags: RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
        clientBox.withLock { $0 = nil }
        logger.debug("Kafka consumer closed")
        closed.fulfill(.success(()))
    }
}
