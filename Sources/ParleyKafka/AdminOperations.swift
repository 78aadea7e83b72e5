import CRDKafka

/// The librdkafka calls behind ``KafkaAdmin``'s operations (run on the admin thread).
enum AdminOperations {
    static func createTopics(_ topics: [KafkaTopicSpec], timeout: Duration) -> AdminRequest {
        AdminRequest(operation: RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout: timeout, start: { kafka, options, replies in
            var errstr = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }  // CreateTopics copies them
            for spec in topics {
                guard let topic = rd_kafka_NewTopic_new(spec.name, spec.partitions, Int32(spec.replicationFactor), &errstr, errstr.count) else {
                    throw KafkaError(code: .invalidArgument, message: "invalid topic \(spec.name): \(cString(errstr))")
                }
                newTopics.append(topic)
                for (name, value) in spec.config.sorted(by: { $0.key < $1.key }) {
                    let err = rd_kafka_NewTopic_set_config(topic, name, value)
                    guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError(err, "invalid config \(name)=\(value) for topic \(spec.name)")
                    }
                }
            }
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(kafka, buffer.baseAddress, buffer.count, options, replies)
            }
        }, check: { event in
            guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
            try checkTopicResults(results, count, ignoring: RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, verb: "create")
        })
    }

    static func deleteTopics(_ names: [String], timeout: Duration) -> AdminRequest {
        AdminRequest(operation: RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout: timeout, start: { kafka, options, replies in
            var deleteTopics: [OpaquePointer?] = names.map { rd_kafka_DeleteTopic_new($0) }
            defer { for topic in deleteTopics { rd_kafka_DeleteTopic_destroy(topic) } }
            deleteTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_DeleteTopics(kafka, buffer.baseAddress, buffer.count, options, replies)
            }
        }, check: { event in
            guard let result = rd_kafka_event_DeleteTopics_result(event) else { return }
            var count = 0
            guard let results = rd_kafka_DeleteTopics_result_topics(result, &count) else { return }
            try checkTopicResults(results, count, ignoring: RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, verb: "delete")
        })
    }

    /// Reads `topic`'s partition count from the broker's metadata (blocks for at most `timeout`).
    static func partitionCount(_ kafka: OpaquePointer, _ topic: String, timeout: Duration) throws -> Int32 {
        guard let topicHandle = rd_kafka_topic_new(kafka, topic, nil) else {
            throw KafkaError(code: .invalidArgument, message: "cannot create a handle for topic \(topic)")
        }
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(kafka, 0, topicHandle, &metadata, Int32(timeout.milliseconds))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(err, "metadata of topic \(topic)")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt == 1, let entry = metadata.pointee.topics?.pointee else {
            throw KafkaError(code: .unknownTopicOrPartition, message: "no metadata for topic \(topic)")
        }
        guard entry.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(entry.err, "metadata of topic \(topic)") }
        return entry.partition_cnt
    }

    /// The names of every topic in the cluster, from the broker's metadata (blocks for at most `timeout`).
    static func topicNames(_ kafka: OpaquePointer, timeout: Duration) throws -> [String] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(kafka, 1, nil, &metadata, Int32(timeout.milliseconds))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(err, "metadata of all topics") }
        defer { rd_kafka_metadata_destroy(metadata) }
        let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
        return topics.compactMap { $0.topic.map { String(cString: $0) } }
    }

    private static func checkTopicResults(_ results: UnsafeMutablePointer<OpaquePointer?>, _ count: Int, ignoring ignored: rd_kafka_resp_err_t, verb: String) throws {
        for index in 0..<count {
            guard let result = results[index] else { continue }
            let err = rd_kafka_topic_result_error(result)
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR, err != ignored else { continue }
            let name = String(cString: rd_kafka_topic_result_name(result))
            let text = rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? ""
            throw KafkaError(err, "cannot \(verb) topic \(name): \(text)")
        }
    }
}
