import CRDKafka

extension ConsumerWorker {
    /// librdkafka's rebalance callback (served inside `rd_kafka_consumer_poll`, or by the close
    /// loop): applies the assignment change, publishes it, and on revocation drops the revoked
    /// partitions' buffered records, whose offsets the new owner will read again.
    func rebalance(_ kafka: OpaquePointer, _ err: rd_kafka_resp_err_t,
                   _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        let entries = list.map { readPartitionList($0) } ?? []
        let changed = Set(entries.map { TopicPartition(topic: $0.topic, partition: $0.partition) })
        let cooperative = String(cString: rd_kafka_rebalance_protocol(kafka)) == "COOPERATIVE"
        let description = entries.map { "\($0.topic)[\($0.partition)]" }.joined(separator: ",")
        gapGuard.forget(changed)
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let error = takeError(rd_kafka_incremental_assign(kafka, list)) {
                    logger.error("Kafka incremental assign failed: \(error)")
                }
            } else {
                let result = rd_kafka_assign(kafka, list)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.error("Kafka assign failed", metadata: ["parley.kafka.error": "\(KafkaError.Code(result).name)"])
                }
            }
            partitions = cooperative ? partitions.union(changed) : changed
            shared.publishAssignment(partitions, assigned: true)
            logger.info("Kafka partitions assigned", metadata: ["parley.partitions": "\(description)"])
        default:
            if err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
                logger.error("Kafka rebalance error", metadata: ["parley.kafka.error": "\(KafkaError.Code(err).name)"])
            }
            let lost = rd_kafka_assignment_lost(kafka) != 0
            if cooperative {
                _ = takeError(rd_kafka_incremental_unassign(kafka, list))
            } else {
                rd_kafka_assign(kafka, nil)
            }
            partitions = cooperative ? partitions.subtracting(changed) : []
            shared.publishAssignment(partitions, assigned: !partitions.isEmpty)
            let revoked = changed.subtracting(partitions)
            buffer.drop(revoked)
            revokedSincePoll.formUnion(revoked)
            logger.info("Kafka partitions revoked", metadata: [
                "parley.partitions": "\(description)", "parley.kafka.lost": "\(lost)",
            ])
        }
    }
}
