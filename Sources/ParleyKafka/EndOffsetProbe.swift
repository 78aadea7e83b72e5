import CRDKafka

/// A manual assignment while the consumer learns where its `.end` partitions really end.
///
/// `.end` starts at the high watermark queried when the consumer starts, so that every record
/// produced after ``KafkaConsumer/isAssigned`` became true is seen and none before. Tansu's
/// ListOffsets(latest) answers the last record *batch's* base offset + 1, not the last offset
/// + 1, so the queried end can point into the last batch (and so would `RD_KAFKA_OFFSET_END`,
/// which uses the same request). The high watermark in Fetch responses is right, so the
/// consumer starts at the queried end, waits (at most ``timeout``) for each partition's first
/// fetch response, and has the gap guard drop records below its high watermark. Records fetched
/// meanwhile are held, and admitted once the ends are known.
struct EndOffsetProbe {
    static let timeout: Duration = .seconds(5)

    let assignment: [(topic: String, partition: Int32, offset: Int64)]
    let deadline: ContinuousClock.Instant
    /// `.end` partitions whose first fetch response has not arrived yet.
    var unknown: Set<TopicPartition>
    /// The high watermark of each `.end` partition whose first fetch response arrived.
    var ends: [TopicPartition: Int64] = [:]
    var held: [KafkaRecord] = []
}

extension ConsumerWorker {
    /// Assigns the partitions, resolving `.end` to the high watermark; the assignment is
    /// complete at once, or after probing (``serveProbe(_:)``) when it has `.end` partitions.
    func assignManually(_ kafka: OpaquePointer, _ assignments: [AssignedPartition]) {
        var entries: [(topic: String, partition: Int32, offset: Int64)] = []
        var atEnd: Set<TopicPartition> = []
        for part in assignments {
            let offset: Int64
            switch part.start {
            case .beginning: offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
            case .offset(let value): offset = value
            case .end:
                var low: Int64 = 0
                var high: Int64 = 0
                let err = rd_kafka_query_watermark_offsets(kafka, part.topic, part.partition, &low, &high, 5000)
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
        let err = withPartitionList(entries) { rd_kafka_assign(kafka, $0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            fail(KafkaError(err, "cannot assign partitions"))
            return
        }
        let probe = EndOffsetProbe(assignment: entries, deadline: .now + EndOffsetProbe.timeout, unknown: atEnd)
        if atEnd.isEmpty {
            complete(probe, kafka)
        } else {
            self.probe = probe
        }
    }

    /// Holds what was fetched and looks for the `.end` partitions' high watermarks; completes
    /// the assignment once all are known or the probe timed out.
    func serveProbe(_ kafka: OpaquePointer) -> RDWait {
        guard var probe else { return .again }
        while probe.held.count < buffer.capacity, let message = rd_kafka_consumer_poll(kafka, 0) {
            if let record = record(from: message) { probe.held.append(record) }
            rd_kafka_message_destroy(message)
        }
        for part in probe.unknown {
            var low: Int64 = -1
            var high: Int64 = -1
            if rd_kafka_get_watermark_offsets(kafka, part.topic, part.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 {
                probe.ends[part] = high
                probe.unknown.remove(part)
            }
        }
        let now = ContinuousClock.now
        guard probe.unknown.isEmpty || now >= probe.deadline else {
            self.probe = probe
            // A fetch response without records updates the watermark without waking the thread.
            return .sleep(until: min(now + .milliseconds(20), probe.deadline))
        }
        self.probe = nil
        complete(probe, kafka)
        return .again
    }

    private func complete(_ probe: EndOffsetProbe, _ kafka: OpaquePointer) {
        if !probe.unknown.isEmpty {
            logger.warning("Kafka high watermark not learned at start; old records may be delivered",
                           metadata: ["parley.partitions": "\(probe.unknown.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ","))"])
        }
        for (partition, end) in probe.ends { gapGuard.expect(partition, at: end) }
        partitions = Set(probe.assignment.map { TopicPartition(topic: $0.topic, partition: $0.partition) })
        shared.publishAssignment(partitions, assigned: true)
        logger.debug("Kafka partitions assigned manually", metadata: [
            "parley.partitions": "\(probe.assignment.map { "\($0.topic)[\($0.partition)]@\($0.offset)" }.joined(separator: ","))",
            "parley.kafka.floors": "\(probe.ends.map { "\($0.key.topic)[\($0.key.partition)]>=\($0.value)" }.joined(separator: ","))",
        ])
        let now = ContinuousClock.now
        buffer.push(probe.held.filter { admit($0, kafka, now: now) })
    }
}
