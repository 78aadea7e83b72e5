import CRDKafka
import Logging
import Synchronization

/// A librdkafka pointer (`rd_kafka_t *` or `rd_kafka_queue_t *`).
///
/// `@unchecked Sendable` because raw pointers are not Sendable: librdkafka's handle and queue
/// functions used from other threads here (produce, commit_queue) are thread-safe, and the
/// pointee's lifetime is guarded by ``RDClient``: only the owning client thread destroys it,
/// after ``RDClient/stopAccepting()`` made sure no other thread is inside ``RDClient/withHandle(_:)``.
struct RDPointer: @unchecked Sendable {
    let raw: OpaquePointer
}

/// What a client's librdkafka callbacks report to. Callbacks run on the client's own thread
/// (from `rd_kafka_poll`, `rd_kafka_consumer_poll` or a served queue).
protocol RDClientEvents: AnyObject, Sendable {
    func deliveryReport(_ message: UnsafePointer<rd_kafka_message_t>)
    func rebalance(_ handle: OpaquePointer, _ err: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?)
    func commitResult(_ err: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ id: UInt)
    func clientError(_ handle: OpaquePointer, _ err: Int32, _ reason: String)
}

extension RDClientEvents {
    func deliveryReport(_ message: UnsafePointer<rd_kafka_message_t>) {}
    func rebalance(_ handle: OpaquePointer, _ err: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {}
    func commitResult(_ err: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ id: UInt) {}
}

/// The object behind librdkafka's `opaque`: callbacks find the logger and the event sink here.
final class RDClientContext: Sendable {
    let logger: Logger
    let events: any RDClientEvents

    init(logger: Logger, events: any RDClientEvents) {
        self.logger = logger
        self.events = events
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDClientContext? {
        guard let opaque else { return nil }
        return Unmanaged<RDClientContext>.fromOpaque(opaque).takeUnretainedValue()
    }

    func log(level: Int32, facility: String, message: String) {
        // syslog levels: 0-3 error, 4 warning, 5 notice, 6 info, 7 debug
        let swiftLevel: Logger.Level = switch level {
        case ...3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
        logger.log(level: swiftLevel, "librdkafka: \(message)", metadata: ["parley.kafka.facility": "\(facility)"])
    }
}

/// Owns one librdkafka handle (`rd_kafka_t`) and its log queue. Created by a client class;
/// destroyed by that client's own thread.
final class RDClient: Sendable {
    let handle: RDPointer
    let logQueue: RDPointer
    let context: RDClientContext
    var logger: Logger { context.logger }
    /// True while other threads may use the handle.
    private let accepting = Mutex<Bool>(true)

    /// Creates the handle. `configure` adds role-specific callbacks to the conf. Log lines go
    /// to ``logQueue`` (served with ``serveLogs(timeoutMS:)``) or, with `logsOnMainQueue`, to
    /// the main queue served by `rd_kafka_poll`.
    init(
        type: rd_kafka_type_t,
        properties: [(String, String)],
        context: RDClientContext,
        logsOnMainQueue: Bool = false,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(code: .state, message: "rd_kafka_conf_new failed")
        }
        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in properties + [("log.queue", "true")] {
            let result = rd_kafka_conf_set(conf, name, value, &errstr, errstr.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(code: .invalidArgument,
                                 message: "invalid Kafka setting \(name)=\(value): \(cString(errstr))")
            }
        }
        // `context` outlives the handle: this object holds it and is itself held by the client
        // thread until after rd_kafka_destroy, so an unretained reference is enough.
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, buffer in
            guard let rk, let context = RDClientContext.from(rd_kafka_opaque(rk)) else { return }
            context.log(level: level,
                        facility: facility.map { String(cString: $0) } ?? "",
                        message: buffer.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_error_cb(conf) { rk, err, reason, opaque in
            guard let rk, let context = RDClientContext.from(opaque) else { return }
            context.events.clientError(rk, err, reason.map { String(cString: $0) } ?? "")
        }
        configure(conf)

        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)  // only freed by rd_kafka_new on success
            throw KafkaError(code: .invalidArgument, message: "cannot create Kafka client: \(cString(errstr))")
        }
        guard let queue = rd_kafka_queue_new(rk) else {
            rd_kafka_destroy(rk)
            throw KafkaError(code: .state, message: "rd_kafka_queue_new failed")
        }
        rd_kafka_set_log_queue(rk, logsOnMainQueue ? nil : queue)
        handle = RDPointer(raw: rk)
        logQueue = RDPointer(raw: queue)
        self.context = context
    }

    /// Runs a short, non-blocking librdkafka call from any thread; throws if the client is
    /// shutting down. The lock is held during `body`, so the handle cannot be destroyed meanwhile.
    func withHandle<T>(_ what: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        try accepting.withLock { open in
            guard open else { throw KafkaError.shutDown(what) }
            return try body(handle.raw)
        }
    }

    /// Stops other threads from using the handle (client thread only).
    func stopAccepting() {
        accepting.withLock { $0 = false }
    }

    var isAccepting: Bool { accepting.withLock { $0 } }

    /// Serves queued librdkafka log lines into swift-log (client thread only).
    func serveLogs(timeoutMS: Int32 = 0) {
        rd_kafka_queue_poll_callback(logQueue.raw, timeoutMS)
    }

    /// Destroys the handle (client thread only, after ``stopAccepting()``).
    func destroy(flags: Int32 = 0) {
        stopAccepting()
        serveLogs()
        rd_kafka_set_log_queue(handle.raw, nil)
        rd_kafka_queue_destroy(logQueue.raw)
        if flags == 0 {
            rd_kafka_destroy(handle.raw)
        } else {
            rd_kafka_destroy_flags(handle.raw, flags)
        }
    }
}

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
