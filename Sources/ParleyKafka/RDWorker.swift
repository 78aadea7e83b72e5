import CRDKafka
import Logging

/// The librdkafka handles a worker may use, only during the call that hands them over.
struct RDHandles {
    /// The client (`rd_kafka_t *`).
    let kafka: OpaquePointer
    /// The queue that asynchronous requests answer on (offset commits, admin results).
    let replies: OpaquePointer
    /// The queue librdkafka's log lines wait on; the thread serves it every round.
    let logs: OpaquePointer
}

/// When a client's thread serves its worker again if nothing wakes it first.
enum RDWait {
    /// At once: more work is ready.
    case again
    /// When woken through the pipe, or at `deadline` (nil: only when woken).
    case sleep(until: ContinuousClock.Instant?)
}

/// The part of a client that lives on the client's own thread (see ``RDClient``): only that
/// thread calls it, so it needs no locks. Not `Sendable`, so the compiler keeps it there.
///
/// librdkafka's callbacks reach it too: they all run on that thread, inside the poll calls it
/// makes (`log.queue` keeps log lines off librdkafka's internal threads).
protocol RDWorker: AnyObject {
    /// What the client is, in the thread's name and in log lines: "consumer", "producer", "admin".
    static var role: String { get }
    var logger: Logger { get }

    /// The thread's first step, before it serves anything (unless stop was already requested).
    func start(_ handles: RDHandles)
    /// Serves whatever is ready without blocking; says when to be served again at the latest.
    func serve(_ handles: RDHandles) -> RDWait
    /// Stop was requested and other threads can no longer reach the handle: finish in bounded
    /// time and fail pending work. The handle is destroyed right after.
    func close(_ handles: RDHandles)

    func deliveryReport(_ message: UnsafePointer<rd_kafka_message_t>)
    func rebalance(_ kafka: OpaquePointer, _ err: rd_kafka_resp_err_t,
                   _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?)
    func commitResult(_ err: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ id: UInt)
    func clientError(_ kafka: OpaquePointer, _ err: Int32, _ reason: String)
}

extension RDWorker {
    func start(_ handles: RDHandles) {}
    func deliveryReport(_ message: UnsafePointer<rd_kafka_message_t>) {}
    func rebalance(_ kafka: OpaquePointer, _ err: rd_kafka_resp_err_t,
                   _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {}
    func commitResult(_ err: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ id: UInt) {}

    func clientError(_ kafka: OpaquePointer, _ err: Int32, _ reason: String) {
        logClientError(kafka, err, reason)
    }

    /// Logs an `error_cb` report; fatal errors at error level with librdkafka's underlying cause.
    func logClientError(_ kafka: OpaquePointer, _ err: Int32, _ reason: String) {
        let code = KafkaError.Code(rawValue: err)
        if code == .fatal {
            var buffer = [CChar](repeating: 0, count: 512)
            let underlying = rd_kafka_fatal_error(kafka, &buffer, buffer.count)
            logger.error("Kafka \(Self.role) fatal error: \(cString(buffer))",
                         metadata: ["parley.kafka.error": "\(KafkaError.Code(underlying).name)"])
        } else if code == KafkaError.Code(RD_KAFKA_RESP_ERR__TRANSPORT) {
            // librdkafka already logged the connection failure itself (facility FAIL).
            logger.debug("Kafka \(Self.role) error: \(reason)", metadata: ["parley.kafka.error": "\(code.name)"])
        } else {
            logger.warning("Kafka \(Self.role) error: \(reason)", metadata: ["parley.kafka.error": "\(code.name)"])
        }
    }
}

/// What librdkafka's `opaque` points at: its callbacks find the worker here. Only the client's
/// thread uses it (and the creating thread, before that thread starts).
final class RDClientContext {
    let worker: any RDWorker

    init(worker: any RDWorker) { self.worker = worker }

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
        worker.logger.log(level: swiftLevel, "librdkafka: \(message)", metadata: ["parley.kafka.facility": "\(facility)"])
    }
}
