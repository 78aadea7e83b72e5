import CRDKafka
import Logging
import ServiceLifecycle

/// A Kafka producer with `acks=all` and `enable.idempotence=true`.
///
/// ``send(_:)`` returns after the broker acknowledged the record. The producer's own thread
/// serves librdkafka's delivery reports; nothing blocks Swift's cooperative pool. As a
/// `Service`, ``run()`` shuts the producer down (flushing) on graceful shutdown or cancellation.
public final class KafkaProducer: Sendable, Service {
    let client: RDClient
    private let shared: ProducerShared
    private let configuration: KafkaConfiguration
    private let headers: (@Sendable () -> [KafkaHeader])?

    /// Creates the producer and starts its thread. Connecting happens in the background: an
    /// unreachable broker shows up as failing sends, not as an error here. `headers`, when set,
    /// is asked once per send or batch for headers to add to each of its records (trace context).
    public init(configuration: KafkaConfiguration, headers: (@Sendable () -> [KafkaHeader])? = nil, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "parley.kafka.client"] = "\(configuration.clientID)"
        let shared = ProducerShared()
        client = try RDClient(
            type: RD_KAFKA_PRODUCER, properties: configuration.producerProperties,
            wake: try WakePipe(), worker: ProducerWorker(shared: shared, logger: logger)
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let context = RDClientContext.from(opaque) else { return }
                context.worker.deliveryReport(message)
            }
        }
        self.shared = shared
        self.configuration = configuration
        self.headers = headers
    }

    deinit {
        stop(flushingFor: .seconds(1))
    }

    /// Sends one record and returns where the broker stored it.
    ///
    /// Throws ``KafkaError`` when the record fails: ``KafkaError/Code/messageTimedOut`` if it was
    /// not acknowledged within ``KafkaConfiguration/messageTimeout`` (e.g. the broker is down),
    /// ``KafkaError/Code/queueFull`` if the local queue stayed full, an unknown-topic code if the
    /// topic does not exist, ``KafkaError/Code/shutDown`` after ``shutdown(timeout:)``.
    public func send(_ record: KafkaOutgoingRecord) async throws -> KafkaDelivery {
        guard let extra = extraHeaders() else { return try await enqueue(record).value() }
        return try await enqueue(Self.adding(extra, to: record)).value()
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
        for record in stamped(records) {
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
    /// ``KafkaError/Code/shutDown``, and destroys the handle. Idempotent (the first call's
    /// timeout applies); later sends throw.
    public func shutdown(timeout: Duration) async {
        stop(flushingFor: timeout)
        await client.untilClosed()
    }

    /// Runs until graceful shutdown or cancellation, then shuts the producer down, flushing for
    /// at most ``KafkaConfiguration/messageTimeout`` (by then librdkafka has acknowledged or
    /// failed every record); returns once it is closed.
    public func run() async {
        await client.runUntilClosed { [self] in stop(flushingFor: configuration.messageTimeout) }
    }

    private func stop(flushingFor timeout: Duration) {
        shared.requestFlush(timeout: timeout)
        client.requestStop()
    }

    /// `records` with the producer's extra headers, if it has any.
    private func stamped(_ records: [KafkaOutgoingRecord]) -> [KafkaOutgoingRecord] {
        guard let extra = extraHeaders() else { return records }
        return records.map { Self.adding(extra, to: $0) }
    }

    /// The headers to add to a send's records now (asked once per send or batch); nil for none.
    private func extraHeaders() -> [KafkaHeader]? {
        guard let extra = headers?(), !extra.isEmpty else { return nil }
        return extra
    }

    /// `record` with those of `extra` whose names it does not carry yet.
    private static func adding(_ extra: [KafkaHeader], to record: KafkaOutgoingRecord) -> KafkaOutgoingRecord {
        var record = record
        for header in extra where !record.headers.contains(where: { $0.name == header.name }) {
            record.headers.append(header)
        }
        return record
    }

    /// Hands the record to librdkafka, retrying briefly while its queue is full.
    private func enqueue(_ record: KafkaOutgoingRecord) async throws -> KafkaPromise<KafkaDelivery> {
        let promise = KafkaPromise<KafkaDelivery>()
        try await enqueue(record, settler: Settler(fulfill: promise.fulfill))
        return promise
    }

    /// Hands the record to librdkafka, retrying briefly while its queue is full; `settler` gets
    /// its delivery report (on the producer's thread).
    private func enqueue(_ record: KafkaOutgoingRecord, settler: Settler<KafkaDelivery>) async throws {
        let deadline = ContinuousClock.now + configuration.messageTimeout
        var backoff = Duration.milliseconds(2)
        while true {
            let id = shared.register(settler)
            let err: rd_kafka_resp_err_t
            do {
                err = try client.withHandles("send to \(record.topic)") { handles in
                    Self.produce(handles.kafka, record, opaque: UnsafeMutableRawPointer(bitPattern: id))
                }
            } catch {
                _ = shared.remove(id)
                throw error
            }
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            _ = shared.remove(id)
            if err == RD_KAFKA_RESP_ERR__QUEUE_FULL, ContinuousClock.now < deadline {
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .milliseconds(50))
                continue
            }
            throw KafkaError(err, "cannot send to topic \(record.topic)")
        }
    }

    /// `rd_kafka_produceva` with copied key, value and headers (librdkafka's variadic `producev`
    /// is not callable from Swift).
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
                        var args = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 5)
                        args.reserveCapacity(6)
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
                        if let key {
                            var argument = rd_kafka_vu_t()
                            argument.vtype = RD_KAFKA_VTYPE_KEY
                            argument.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress) ?? UnsafeMutableRawPointer(placeholder)
                            argument.u.mem.size = key.count
                            args.append(argument)
                        }
                        func produce(_ args: [rd_kafka_vu_t]) -> rd_kafka_resp_err_t {
                            args.withUnsafeBufferPointer { buffer in
                                let error = rd_kafka_produceva(handle, buffer.baseAddress, buffer.count)
                                guard let error else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                                defer { rd_kafka_error_destroy(error) }
                                return rd_kafka_error_code(error)
                            }
                        }
                        guard !record.headers.isEmpty else { return produce(args) }
                        return HeaderBuffer(record.headers).withArguments { produce(args + $0) }
                    }
                }
            }
        }
    }
}
