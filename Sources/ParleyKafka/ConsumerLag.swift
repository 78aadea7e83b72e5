import CRDKafka

extension ConsumerWorker {
    /// Publishes the records not yet handed to the application: per assigned partition, the
    /// high watermark − the position, plus the records still in the buffer (librdkafka's
    /// position already counts them as read). Uses librdkafka's cached fetch state only.
    func refreshLag(_ kafka: OpaquePointer) {
        guard !partitions.isEmpty else {
            shared.publishLag(nil)
            return
        }
        let buffered = buffer.countsByPartition()
        let entries = partitions.map { (topic: $0.topic, partition: $0.partition, offset: Int64(RD_KAFKA_OFFSET_INVALID)) }
        let positions = withPartitionList(entries) { list -> [(topic: String, partition: Int32, offset: Int64, err: rd_kafka_resp_err_t)] in
            guard rd_kafka_position(kafka, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [] }
            return readPartitionList(list)
        }
        var total: Int64 = 0
        var known = false
        for position in positions {
            var low: Int64 = -1
            var high: Int64 = -1
            guard rd_kafka_get_watermark_offsets(kafka, position.topic, position.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  high >= 0 else { continue }
            let key = TopicPartition(topic: position.topic, partition: position.partition)
            let next = position.offset >= 0 ? position.offset : low  // nothing consumed yet
            guard next >= 0 else { continue }
            total += max(0, high - next) + (buffered[key] ?? 0)
            known = true
        }
        shared.publishLag(known ? total : nil)
    }
}
