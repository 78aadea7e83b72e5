import CRDKafka
import Logging
import Synchronization

/// A Kafka producer with `acks=all` and `enable.idempotence=true`.
///
/// ``send(_:)`` returns after the broker acknowledged the record. A dedicated thread polls
/// librdkafka for delivery reports; nothing blocks Swift's cooperative pool.
public final class KafkaProducer: Sendable {
    private let client: RDClient
    private let state: ProducerState
    private let configuration: KafkaConfiguration

    /// Creates the producer and starts its poll thread. Connecting happens in the background:
    /// an unreachable broker shows up as failing sends, not as an error here.
    public init(configuration: KafkaConfiguration, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "parley.kafka.client"] = "\(configuration.clientID)"
        let state = ProducerState(logger: logger)
        let context = RDClientContext(logger: logger, events: state)
        client = try RDClient(type: RD_KAFKA_PRODUCER, properties: configuration.producerProperties, context: context,
                              logsOnMainQueue: true) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let context = RDClientContext.from(opaque) else { return }
                context.events.deliveryReport(message)
            }
        }
        self.state = state
        self.configuration = configuration
        let client = client
        startKafkaThread(name: "parley-kafka-producer") { state.run(client) }
    }

    deinit {
        state.requestShutdown(flushTimeout: .seconds(1))
    }

    /// Sends one record and returns where the broker stored it.
    ///
    /// Throws ``KafkaError`` when the record fails: ``KafkaError/Code/messageTimedOut`` if it was
    /// not acknowledged within ``KafkaConfiguration/messageTimeout`` (e.g. the broker is down),
    /// ``KafkaError/Code/queueFull`` if the local queue stayed full, an unknown-topic code if the
    /// topic does not exist, ``KafkaError/Code/shutDown`` after ``shutdown(timeout:)``.
    public func send(_ record: KafkaOutgoingRecord) async throws -> KafkaDelivery {
        try await enqueue(record).value()
    }

    /// Enqueues all records in this order (records for one partition keep their order) and
    /// returns their deliveries, in the same order, once all are acknowledged. If any fails,
    /// throws the first failure, but only after every enqueued record has completed.
    public func send(batch records: [KafkaOutgoingRecord]) async throws -> [KafkaDelivery] {
        try await enqueue(batch: records).deliveries()
    }

    /// Enqueues all records in this order and returns as soon as they are queued, so the caller
    /// can enqueue the next batch (in order) while this one is in flight; await
    /// ``KafkaPendingBatch/deliveries()`` (or use ``KafkaPendingBatch/onSettled(_:)``) for the
    /// acknowledgements. If a record cannot be enqueued, the later ones are not (that would
    /// break the order) and the batch fails.
    public func enqueue(batch records: [KafkaOutgoingRecord]) async -> KafkaPendingBatch {
        let batch = BatchDeliveries()
        var enqueueError: (any Error)?
        for record in records {
            do {
                try await enqueue(record, settler: batch.add())
            } catch {
                batch.withdrawLast()
                enqueueError = error
                break
            }
        }
        batch.seal(enqueueError: enqueueError)
        return KafkaPendingBatch(batch: batch)
    }

    /// Flushes outstanding records (waiting at most `timeout`), fails what is left with
    /// ``KafkaError/Code/shutDown``, and destroys the handle. Idempotent; later sends throw.
    public func shutdown(timeout: Duration) async {
        state.requestShutdown(flushTimeout: timeout)
        try? await state.closed.value()
    }

    /// Hands the record to librdkafka, retrying briefly while its queue is full.
    private func enqueue(_ record: KafkaOutgoingRecord) async throws -> KafkaPromise<KafkaDelivery> {
        let promise = KafkaPromise<KafkaDelivery>()
        try await enqueue(record, settler: Settler(fulfill: promise.fulfill))
        return promise
    }

    /// Hands the record to librdkafka, retrying briefly while its queue is full; `settler` gets
    /// its delivery report (on the poll thread).
    private func enqueue(_ record: KafkaOutgoingRecord, settler: Settler<KafkaDelivery>) async throws {
        let deadline = ContinuousClock.now + configuration.messageTimeout
        var backoff = Duration.milliseconds(2)
        while true {
            let id = state.pending.withLock { $0.register(settler) }
            let err: rd_kafka_resp_err_t
            do {
                err = try client.withHandle("send to \(record.topic)") { handle in
                    Self.produce(handle, record, opaque: UnsafeMutableRawPointer(bitPattern: id))
                }
            } catch {
                _ = state.pending.withLock { $0.remove(id) }
                throw error
            }
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            _ = state.pending.withLock { $0.remove(id) }
            if err == RD_KAFKA_RESP_ERR__QUEUE_FULL, ContinuousClock.now < deadline {
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .milliseconds(50))
                continue
            }
            throw KafkaError(err, "cannot send to topic \(record.topic)")
        }
    }

    /// `rd_kafka_produceva` with copied key and value (librdkafka's variadic `producev` is not
    /// callable from Swift).
    private static func produce(_ handle: OpaquePointer, _ record: KafkaOutgoingRecord, opaque: UnsafeMutableRawPointer?) -> rd_kafka_resp_err_t {
        var placeholder: UInt8 = 0  // a valid pointer for empty (not null) keys and values
        return record.topic.withCString { topic in
            record.value.withUnsafeBytes { value in
                withUnsafeMutablePointer(to: &placeholder) { placeholder in
                    func withKey(_ body: (UnsafeRawBufferPointer?) -> rd_kafka_resp_err_t) -> rd_kafka_resp_err_t {
                        guard let key = record.key else { return body(nil) }
                        return key.withUnsafeBytes { body($0) }
                    }
                    return withKey { key in
                        var args = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 6)
                        args[0].vtype = RD_KAFKA_VTYPE_TOPIC
                        args[0].u.cstr = topic
                        args[1].vtype = RD_KAFKA_VTYPE_PARTITION
                        args[1].u.i32 = record.partition ?? RD_KAFKA_PARTITION_UA
                        args[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                        args[2].u.i = RD_KAFKA_MSG_F_COPY
                        args[3].vtype = RD_KAFKA_VTYPE_VALUE
                        args[3].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress) ?? UnsafeMutableRawPointer(placeholder)
                        args[3].u.mem.size = value.count
                        args[4].vtype = RD_KAFKA_VTYPE_OPAQUE
                        args[4].u.ptr = opaque
                        var count = 5
                        if let key {
                            args[5].vtype = RD_KAFKA_VTYPE_KEY
                            args[5].u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress) ?? UnsafeMutableRawPointer(placeholder)
                            args[5].u.mem.size = key.count
                            count = 6
                        }
                        return args.withUnsafeBufferPointer { buffer in
                            let error = rd_kafka_produceva(handle, buffer.baseAddress, count)
                            guard let error else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                            defer { rd_kafka_error_destroy(error) }
                            return rd_kafka_error_code(error)
                        }
                    }
                }
            }
        }
    }
}

/// The producer's state shared between callers, the poll thread and librdkafka callbacks.
final class ProducerState: RDClientEvents {
    let logger: Logger
    let pending = Mutex(PromiseTable<KafkaDelivery>())
    let closed = KafkaPromise<Void>()
    private let shutdownRequest = Mutex<Duration?>(nil)

    init(logger: Logger) { self.logger = logger }

    func requestShutdown(flushTimeout: Duration) {
        shutdownRequest.withLock { if $0 == nil { $0 = flushTimeout } }
    }

    /// The poll thread.
    func run(_ client: RDClient) {
        let handle = client.handle.raw
        var flushTimeout: Duration? = nil
        while flushTimeout == nil {
            rd_kafka_poll(handle, 100)
            flushTimeout = shutdownRequest.withLock { $0 }
        }
        client.stopAccepting()
        let outstanding = pending.withLock { $0.count }
        if outstanding > 0 {
            logger.debug("Kafka producer flushing", metadata: ["parley.kafka.outstanding": "\(outstanding)"])
        }
        if rd_kafka_flush(handle, Int32(flushTimeout!.milliseconds)) != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka producer flush timed out; dropping unsent records",
                           metadata: ["parley.kafka.outstanding": "\(rd_kafka_outq_len(handle))"])
            rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING)
            rd_kafka_poll(handle, 0)  // serves the purged records' delivery reports
        }
        for settler in pending.withLock({ $0.removeAll() }) {
            settler.fulfill(.failure(.shutDown("send")))
        }
        client.destroy()
        logger.debug("Kafka producer closed")
        closed.fulfill(.success(()))
    }

    func deliveryReport(_ message: UnsafePointer<rd_kafka_message_t>) {
        let id = UInt(bitPattern: message.pointee._private)
        guard let settler = pending.withLock({ $0.remove(id) }) else { return }
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR_NO_ERROR {
            settler.fulfill(.success(KafkaDelivery(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)))
        } else {
            logger.debug("Kafka delivery failed", metadata: [
                "parley.topic": "\(topic)", "parley.kafka.error": "\(KafkaError.Code(err).name)",
            ])
            settler.fulfill(.failure(KafkaError(err, "delivery to topic \(topic) failed")))
        }
    }

    func clientError(_ handle: OpaquePointer, _ err: Int32, _ reason: String) {
        logClientError(logger, handle, err, reason, role: "producer")
    }
}

/// Logs an `error_cb` report; fatal errors at error level with librdkafka's underlying cause.
func logClientError(_ logger: Logger, _ handle: OpaquePointer, _ err: Int32, _ reason: String, role: String) {
    let code = KafkaError.Code(rawValue: err)
    if code == .fatal {
        var buffer = [CChar](repeating: 0, count: 512)
        let underlying = rd_kafka_fatal_error(handle, &buffer, buffer.count)
        logger.error("Kafka \(role) fatal error: \(cString(buffer))",
                     metadata: ["parley.kafka.error": "\(KafkaError.Code(underlying).name)"])
    } else if code == KafkaError.Code(RD_KAFKA_RESP_ERR__TRANSPORT) {
        // librdkafka already logged the connection failure itself (facility FAIL).
        logger.debug("Kafka \(role) error: \(reason)", metadata: ["parley.kafka.error": "\(code.name)"])
    } else {
        logger.warning("Kafka \(role) error: \(reason)", metadata: ["parley.kafka.error": "\(code.name)"])
    }
}

/// Records enqueued by ``KafkaProducer/enqueue(batch:)`` whose acknowledgements are pending.
public struct KafkaPendingBatch: Sendable {
    let batch: BatchDeliveries

    /// Waits for every enqueued record; throws the first failure (an enqueue failure first)
    /// after all have completed.
    public func deliveries() async throws -> [KafkaDelivery] {
        try await withCheckedThrowingContinuation { continuation in
            batch.onSettled { continuation.resume(with: $0) }
        }
    }

    /// Runs `body` with the outcome of ``deliveries()`` once every record completed: at once if
    /// they have, else on the producer's poll thread, so `body` must be quick and not block.
    public func onSettled(_ body: @escaping @Sendable (Result<[KafkaDelivery], any Error>) -> Void) {
        batch.onSettled(body)
    }
}
