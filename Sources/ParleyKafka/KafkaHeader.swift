import CRDKafka

/// A Kafka record header: a name and a binary value. A record may carry several, with repeated
/// names, in order.
public struct KafkaHeader: Sendable, Hashable {
    /// The header's name (e.g. `traceparent`).
    public var name: String
    /// The header's value.
    public var value: [UInt8]

    /// A header with a binary value.
    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    /// A header whose value is the UTF-8 bytes of a string.
    public init(name: String, value: String) {
        self.init(name: name, value: Array(value.utf8))
    }

    /// The headers of a consumed message, copied out of librdkafka (empty when it has none).
    static func read(from message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var headers: [KafkaHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let name {
                let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append(KafkaHeader(name: String(cString: name), value: bytes))
            }
            index += 1
        }
        return headers
    }
}

extension Array where Element == KafkaHeader {
    /// The value of the first header named `name`.
    public func first(named name: String) -> [UInt8]? {
        first { $0.name == name }?.value
    }
}

/// Headers laid out for one `rd_kafka_produceva` call: every name NUL-terminated and every value
/// in one buffer, so a single scope keeps all their pointers valid (librdkafka copies them).
struct HeaderBuffer {
    private let bytes: [UInt8]
    private let spans: [(name: Int, value: Int, size: Int)]

    init(_ headers: [KafkaHeader]) {
        var bytes: [UInt8] = []
        var spans: [(name: Int, value: Int, size: Int)] = []
        for header in headers {
            let name = bytes.count
            bytes += header.name.utf8
            bytes.append(0)
            spans.append((name, bytes.count, header.value.count))
            bytes += header.value
        }
        self.bytes = bytes
        self.spans = spans
    }

    /// Calls `body` with one `RD_KAFKA_VTYPE_HEADER` argument per header.
    func withArguments<T>(_ body: ([rd_kafka_vu_t]) -> T) -> T {
        bytes.withUnsafeBytes { buffer in
            let arguments = spans.map { span in
                var argument = rd_kafka_vu_t()
                argument.vtype = RD_KAFKA_VTYPE_HEADER
                argument.u.header.name = buffer.baseAddress!.advanced(by: span.name).assumingMemoryBound(to: CChar.self)
                argument.u.header.val = buffer.baseAddress!.advanced(by: span.value)
                argument.u.header.size = span.size
                return argument
            }
            return body(arguments)
        }
    }
}
