import CRDKafka
import Logging

/// The consumer's thread-confined part (see ``RDWorker``): polls librdkafka into the
/// ``ConsumerBuffer`` (or hands batches to a ``KafkaRecordSink``), hands records out without offset gaps (``OffsetGapGuard``), follows
/// rebalances (ConsumerRebalance.swift), learns where manually assigned `.end` partitions end
/// (EndOffsetProbe.swift), refreshes the lag (ConsumerLag.swift) and closes.
final class ConsumerWorker: RDWorker {
    enum Mode {
        case group
        case manual([AssignedPartition])
    }

    static let role = "consumer"
    /// How many records one round moves into the buffer at most, so the thread checks for a
    /// stop request and serves commit results between rounds.
    private static let maxPerRound = 512

    let logger: Logger
    let buffer: ConsumerBuffer
    /// Takes the records instead of the buffer, on this thread (``KafkaRecordSink``).
    private let sink: (any KafkaRecordSink)?
    let shared: ConsumerShared
    private let mode: Mode
    private let closeTimeout: Duration
    var gapGuard: OffsetGapGuard
    /// The partitions assigned to this consumer, as published to ``shared``.
    var partitions: Set<TopicPartition> = []
    /// Partitions a rebalance revoked since the poll loop last looked.
    var revokedSincePoll: Set<TopicPartition> = []
    /// The manual assignment's `.end` partitions whose true end is still being learned.
    var probe: EndOffsetProbe?
    var nextLagRefresh = ContinuousClock.now
    private var failed = false
    private var mayHaveMore = true

    init(mode: Mode, configuration: KafkaConfiguration, buffer: ConsumerBuffer, sink: (any KafkaRecordSink)?,
         shared: ConsumerShared, logger: Logger) {
        self.mode = mode
        self.buffer = buffer
        self.sink = sink
        self.shared = shared
        self.logger = logger
        closeTimeout = configuration.sessionTimeout + .seconds(5)
        gapGuard = OffsetGapGuard(timeout: configuration.offsetGapTimeout)
    }

    func start(_ handles: RDHandles) {
        if case .manual(let assignments) = mode { assignManually(handles.kafka, assignments) }
    }

    func serve(_ handles: RDHandles) -> RDWait {
        rd_kafka_queue_poll_callback(handles.replies, 0)  // commit results
        if probe != nil { return serveProbe(handles.kafka) }
        if !failed { fetch(handles.kafka) }
        let openGaps = seekGaps(handles.kafka)
        let now = ContinuousClock.now
        if now >= nextLagRefresh {
            refreshLag(handles.kafka)
            nextLagRefresh = now + .seconds(1)
        }
        if mayHaveMore && !failed && buffer.space > 0 { return .again }
        // An open gap is sought again every 20 ms (``OffsetGapGuard/reseekInterval``).
        return .sleep(until: openGaps ? min(now + .milliseconds(10), nextLagRefresh) : nextLagRefresh)
    }

    /// Moves fetched records into the buffer, as many as fit (at most ``maxPerRound``).
    private func fetch(_ kafka: OpaquePointer) {
        let room = min(buffer.space, Self.maxPerRound)
        guard room > 0 else { return }
        var batch: [KafkaRecord] = []
        var fetched = 0
        mayHaveMore = false
        let now = ContinuousClock.now
        while batch.count < room, let message = rd_kafka_consumer_poll(kafka, 0) {
            // A rebalance served inside that poll dropped the revoked partitions' buffered
            // records; drop the ones this round already collected too, or committing them would
            // move the offset past the dropped ones (loss).
            dropRevoked(from: &batch)
            if let record = record(from: message), admit(record, kafka, now: now) {
                batch.append(record)
            }
            rd_kafka_message_destroy(message)
            if batch.count == room { mayHaveMore = true }
            fetched += 1
        }
        if fetched > 0 && batch.count < room { mayHaveMore = true }  // an error message may precede more
        dropRevoked(from: &batch)  // the last poll, which returned nothing, may have served a rebalance
        if let sink {
            // The buffer stays empty (its space is always there): the sink took the records.
            if !batch.isEmpty { sink.receive(batch, status: shared.status) }
        } else {
            buffer.push(batch)
        }
    }

    /// Removes from `batch` the records of partitions revoked since the last call.
    private func dropRevoked(from batch: inout [KafkaRecord]) {
        guard !revokedSincePoll.isEmpty else { return }
        let revoked = revokedSincePoll
        revokedSincePoll.removeAll()
        batch.removeAll { revoked.contains(TopicPartition(topic: $0.topic, partition: $0.partition)) }
    }

    /// Whether `record` may be handed out (see ``OffsetGapGuard``); a record past a new gap
    /// makes the partition seek back to the missing offset.
    func admit(_ record: KafkaRecord, _ kafka: OpaquePointer, now: ContinuousClock.Instant) -> Bool {
        let partition = TopicPartition(topic: record.topic, partition: record.partition)
        switch gapGuard.admit(partition, offset: record.offset, now: now) {
        case .accept:
            return true
        case .drop:
            return false
        case .seek(let missing):
            shared.countGap(skipped: false)
            logger.notice("Kafka offset gap, reading again", metadata: [
                "parley.topic": "\(record.topic)", "parley.partition": "\(record.partition)",
                "parley.kafka.missing": "\(missing)", "parley.offset": "\(record.offset)",
            ])
            seek(kafka, partition, to: missing)
            return false
        }
    }

    /// Seeks again for gaps still open, moves past those open too long; true while gaps are open.
    private func seekGaps(_ kafka: OpaquePointer) -> Bool {
        guard gapGuard.hasOpenGaps else { return false }
        for seek in gapGuard.due(now: .now) {
            if seek.skipped {
                shared.countGap(skipped: true)
                logger.warning("Kafka offset gap not filled in time; moving past it", metadata: [
                    "parley.topic": "\(seek.partition.topic)", "parley.partition": "\(seek.partition.partition)",
                    "parley.offset": "\(seek.offset)",
                ])
            }
            self.seek(kafka, seek.partition, to: seek.offset)
        }
        return gapGuard.hasOpenGaps
    }

    /// Starts an asynchronous seek; records fetched from the old position may still arrive and
    /// are dropped by the gap guard.
    private func seek(_ kafka: OpaquePointer, _ partition: TopicPartition, to offset: Int64) {
        let error = withPartitionList([(topic: partition.topic, partition: partition.partition, offset: offset)]) {
            takeError(rd_kafka_seek_partitions(kafka, $0, 0))
        }
        if let error {
            logger.warning("Kafka seek failed: \(error)", metadata: [
                "parley.topic": "\(partition.topic)", "parley.partition": "\(partition.partition)",
            ])
        }
    }

    /// Converts a polled message into a record; logs and drops errors and EOF markers.
    func record(from message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaRecord? {
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
            timestamp: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp,
            headers: KafkaHeader.read(from: message))
    }

    func clientError(_ kafka: OpaquePointer, _ err: Int32, _ reason: String) {
        logClientError(kafka, err, reason)
        guard KafkaError.Code(rawValue: err) == .fatal else { return }
        var text = [CChar](repeating: 0, count: 512)
        let underlying = rd_kafka_fatal_error(kafka, &text, text.count)
        fail(KafkaError(code: .fatal, message: "consumer fatal error: \(cString(text))",
                        underlying: KafkaError(underlying, cString(text))))
    }

    /// Ends the record sequence with `error`; the thread keeps serving until stopped.
    func fail(_ error: KafkaError) {
        failed = true
        buffer.finish(failure: error)
        shared.end()
    }

    func commitResult(_ err: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ id: UInt) {
        guard let settler = shared.removeCommit(id) else { return }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka commit failed", metadata: ["parley.kafka.error": "\(KafkaError.Code(err).name)"])
            settler.fulfill(.failure(KafkaError(err, "offset commit failed")))
            return
        }
        if let offsets, let failed = readPartitionList(offsets).first(where: { $0.err != RD_KAFKA_RESP_ERR_NO_ERROR }) {
            logger.warning("Kafka commit failed", metadata: [
                "parley.topic": "\(failed.topic)", "parley.partition": "\(failed.partition)",
                "parley.kafka.error": "\(KafkaError.Code(failed.err).name)",
            ])
            settler.fulfill(.failure(KafkaError(failed.err, "offset commit failed for \(failed.topic)[\(failed.partition)]")))
            return
        }
        settler.fulfill(.success(()))
    }

    /// Leaves the group within a bounded time, then ends the sequence and fails pending commits.
    func close(_ handles: RDHandles) {
        let kafka = handles.kafka
        if let closeQueue = rd_kafka_queue_new(kafka) {
            if let error = takeError(rd_kafka_consumer_close_queue(kafka, closeQueue)) {
                logger.warning("Kafka consumer close failed: \(error)")
            } else {
                let deadline = ContinuousClock.now + closeTimeout
                while rd_kafka_consumer_closed(kafka) == 0 {
                    if ContinuousClock.now >= deadline {
                        logger.warning("Kafka consumer close timed out; destroying anyway")
                        break
                    }
                    // The close queue also carries fetched records and errors, which only the
                    // event API may serve (rd_kafka_queue_poll_callback asserts on them).
                    if let event = rd_kafka_queue_poll(closeQueue, 100) {
                        if rd_kafka_event_type(event) == RD_KAFKA_EVENT_REBALANCE {
                            rebalance(kafka, rd_kafka_event_error(event), rd_kafka_event_topic_partition_list(event))
                        }
                        rd_kafka_event_destroy(event)
                    }
                    rd_kafka_queue_poll_callback(handles.replies, 0)
                    rd_kafka_queue_poll_callback(handles.logs, 0)
                }
            }
            rd_kafka_queue_destroy(closeQueue)
        }
        rd_kafka_queue_poll_callback(handles.replies, 0)
        buffer.finish(failure: nil)
        shared.close()
    }
}

/// A partition of a manual assignment and where to start reading it.
struct AssignedPartition: Sendable {
    let topic: String
    let partition: Int32
    let start: KafkaStartOffset
}
