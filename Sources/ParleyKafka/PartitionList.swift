import CRDKafka

/// Reads a C topic-partition list.
func readPartitionList(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>)
    -> [(topic: String, partition: Int32, offset: Int64, err: rd_kafka_resp_err_t)]
{
    let count = Int(list.pointee.cnt)
    guard count > 0, let elems = list.pointee.elems else { return [] }
    return (0..<count).map { index in
        let element = elems[index]
        return (element.topic.map { String(cString: $0) } ?? "", element.partition, element.offset, element.err)
    }
}

/// Builds a C topic-partition list for the duration of `body`.
func withPartitionList<T>(
    _ entries: [(topic: String, partition: Int32, offset: Int64)],
    _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> T
) rethrows -> T {
    let list = rd_kafka_topic_partition_list_new(Int32(max(1, entries.count)))!
    defer { rd_kafka_topic_partition_list_destroy(list) }
    for entry in entries {
        let element = rd_kafka_topic_partition_list_add(list, entry.topic, entry.partition)!
        element.pointee.offset = entry.offset
    }
    return try body(list)
}

/// Converts (and frees) a librdkafka error object.
func takeError(_ error: OpaquePointer?) -> KafkaError? {
    guard let error else { return nil }
    defer { rd_kafka_error_destroy(error) }
    return KafkaError(code: KafkaError.Code(rawValue: rd_kafka_error_code(error).rawValue),
                      message: String(cString: rd_kafka_error_string(error)))
}

/// The text in a NUL-terminated C string buffer.
func cString(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
