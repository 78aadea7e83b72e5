import CRDKafka
import Logging
import Metrics
import Synchronization

/// What a producer's callers and its thread share: the records awaiting their delivery report,
/// and how long the thread may flush when it closes.
final class ProducerShared: Sendable {
    private struct State: ~Copyable {
        var pending = PromiseTable<KafkaDelivery>()
        var flushTimeout: Duration?
    }

    private let state = Mutex(State())

    /// Registers a record about to be enqueued; its delivery report carries the returned id.
    func register(_ settler: Settler<KafkaDelivery>) -> UInt { state.withLock { $0.pending.register(settler) } }

    /// Takes a record's settler back (librdkafka did not take the record, or reported it).
    func remove(_ id: UInt) -> Settler<KafkaDelivery>? { state.withLock { $0.pending.remove(id) } }

    /// Sets how long the closing thread flushes; the first request wins.
    func requestFlush(timeout: Duration) { state.withLock { if $0.flushTimeout == nil { $0.flushTimeout = timeout } } }

    fileprivate var flushTimeout: Duration { state.withLock { $0.flushTimeout } ?? .zero }
    fileprivate var pendingCount: Int { state.withLock { $0.pending.count } }
    fileprivate func removeAll() -> [Settler<KafkaDelivery>] { state.withLock { $0.pending.removeAll() } }
}

/// The producer's thread-confined part (see ``RDWorker``): serves delivery reports, and flushes
/// when the producer closes.
final class ProducerWorker: RDWorker {
    static let role = "producer"

    let logger: Logger
    private let shared: ProducerShared
    /// From `produce` to the broker's acknowledgement, as librdkafka measured it.
    private let ackLatency = Timer(label: "parley_kafka_produce_ack_seconds")

    init(shared: ProducerShared, logger: Logger) {
        self.shared = shared
        self.logger = logger
    }

    /// Delivery reports wake the thread through the main queue; nothing else is ever due.
    func serve(_ handles: RDHandles) -> RDWait {
        rd_kafka_poll(handles.kafka, 0)
        return .sleep(until: nil)
    }

    func deliveryReport(_ message: UnsafePointer<rd_kafka_message_t>) {
        guard let settler = shared.remove(UInt(bitPattern: message.pointee._private)) else { return }
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR_NO_ERROR {
            let latency = rd_kafka_message_latency(message)
            if latency >= 0 { ackLatency.recordMicroseconds(latency) }
            settler.fulfill(.success(KafkaDelivery(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)))
        } else {
            logger.debug("Kafka delivery failed", metadata: [
                "parley.topic": "\(topic)", "parley.kafka.error": "\(KafkaError.Code(err).name)",
            ])
            settler.fulfill(.failure(KafkaError(err, "delivery to topic \(topic) failed")))
        }
    }

    /// Flushes outstanding records within the requested time, then fails what is left.
    func close(_ handles: RDHandles) {
        let kafka = handles.kafka
        let outstanding = shared.pendingCount
        if outstanding > 0 {
            logger.debug("Kafka producer flushing", metadata: ["parley.kafka.outstanding": "\(outstanding)"])
        }
        if rd_kafka_flush(kafka, Int32(shared.flushTimeout.milliseconds)) != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka producer flush timed out; dropping unsent records",
                           metadata: ["parley.kafka.outstanding": "\(rd_kafka_outq_len(kafka))"])
            rd_kafka_purge(kafka, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING)
            rd_kafka_poll(kafka, 0)  // serves the purged records' delivery reports
        }
        for settler in shared.removeAll() {
            settler.fulfill(.failure(.shutDown("send")))
        }
    }
}
