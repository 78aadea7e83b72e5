import CRDKafka
import Foundation
import ServiceLifecycle
import Synchronization

/// A librdkafka pointer (`rd_kafka_t *` or `rd_kafka_queue_t *`) held by ``RDClient``.
///
/// `@unchecked Sendable` because raw pointers are not Sendable: only the client's own thread
/// uses these pointers, except inside ``RDClient/withHandles(_:_:)`` for librdkafka calls that
/// are thread-safe (produce, commit); there a lock keeps the thread from destroying them.
private struct RDPointer: @unchecked Sendable {
    let raw: OpaquePointer
}

/// Moves the worker, inside the context librdkafka's callbacks reach it through, to the thread
/// that will own it.
///
/// `@unchecked Sendable` because neither is Sendable: the initializer got the worker as
/// `sending`, hands both over before the new thread starts, and never touches them again.
private struct Handover: @unchecked Sendable {
    let context: RDClientContext
}

/// Owns one librdkafka handle and the one OS thread that serves it.
///
/// The thread sleeps on a ``WakePipe``. librdkafka writes to the pipe when the queues it serves
/// get an event (consumer records and rebalances or delivery reports, request replies, log
/// lines); ``requestStop()`` and the client's callers write to it when they need the thread.
/// Each round it serves the log queue and its ``RDWorker``, which says when it needs the next
/// round at the latest. Every blocking librdkafka call runs here, never on Swift's cooperative
/// pool; the handle is reachable only from this thread and, for thread-safe calls, inside
/// ``withHandles(_:_:)``.
final class RDClient: Sendable {
    /// The pipe the thread sleeps on.
    let wake: WakePipe
    private let kafka: RDPointer
    /// Where events for the worker arrive: the main queue, or for a consumer the consumer queue.
    private let events: RDPointer
    private let replies: RDPointer
    private let logs: RDPointer
    private let isConsumer: Bool
    private let accepting = Mutex(true)
    private let stopRequested = Atomic(false)
    private let closed = KafkaPromise<Void>()

    private var handles: RDHandles { RDHandles(kafka: kafka.raw, replies: replies.raw, logs: logs.raw) }

    /// Creates the handle, lets `prepare` use it (a failure destroys it and is rethrown), then
    /// starts the thread that runs `worker`. `configure` adds role-specific callbacks to the conf.
    init<Worker: RDWorker>(
        type: rd_kafka_type_t,
        properties: [(String, String)],
        wake: WakePipe,
        worker: sending Worker,
        configure: (OpaquePointer) -> Void = { _ in },
        prepare: (RDHandles) throws -> Void = { _ in }
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
        // The thread holds `context` until after rd_kafka_destroy (and this initializer holds
        // it until then if it fails), so an unretained reference is enough.
        let context = RDClientContext(worker: worker)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, buffer in
            guard let rk, let context = RDClientContext.from(rd_kafka_opaque(rk)) else { return }
            context.log(level: level,
                        facility: facility.map { String(cString: $0) } ?? "",
                        message: buffer.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_error_cb(conf) { rk, err, reason, opaque in
            guard let rk, let context = RDClientContext.from(opaque) else { return }
            context.worker.clientError(rk, err, reason.map { String(cString: $0) } ?? "")
        }
        configure(conf)

        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)  // only freed by rd_kafka_new on success
            throw KafkaError(code: .invalidArgument, message: "cannot create Kafka client: \(cString(errstr))")
        }
        isConsumer = type == RD_KAFKA_CONSUMER
        if isConsumer { rd_kafka_poll_set_consumer(rk) }  // errors and rebalances arrive through consumer_poll
        guard let logs = rd_kafka_queue_new(rk), let replies = rd_kafka_queue_new(rk),
              let events = isConsumer ? rd_kafka_queue_get_consumer(rk) : rd_kafka_queue_get_main(rk)
        else {
            rd_kafka_destroy(rk)
            throw KafkaError(code: .state, message: "cannot create the Kafka client's queues")
        }
        rd_kafka_set_log_queue(rk, logs)
        var payload: UInt8 = 1
        for queue in [events, replies, logs] {
            rd_kafka_queue_io_event_enable(queue, wake.writeFD, &payload, 1)
        }
        self.wake = wake
        self.kafka = RDPointer(raw: rk)
        self.events = RDPointer(raw: events)
        self.replies = RDPointer(raw: replies)
        self.logs = RDPointer(raw: logs)
        do {
            try prepare(handles)
        } catch {
            destroy()
            throw error
        }
        let handover = Handover(context: context)
        let thread = Thread { [self] in run(handover.context.worker) }
        thread.name = "parley-kafka-\(Worker.role)"
        thread.start()
    }

    /// Runs a short, non-blocking, thread-safe librdkafka call (produce, commit) from any thread;
    /// throws ``KafkaError/Code/shutDown`` once the client is closing. The handles are valid
    /// only inside `body`: the lock held meanwhile keeps the thread from destroying them.
    func withHandles<T>(_ what: String, _ body: (RDHandles) throws -> T) throws -> T {
        try accepting.withLock { open in
            guard open else { throw KafkaError.shutDown(what) }
            return try body(handles)
        }
    }

    /// Asks the thread to close the client; returns at once. Idempotent.
    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        wake.signal()
    }

    /// Waits until the thread has closed the client and destroyed the handle.
    func untilClosed() async {
        try? await closed.value()
    }

    /// Asks the thread to close the client and waits until it has.
    func close() async {
        requestStop()
        await untilClosed()
    }

    /// The clients' `Service.run()`: waits until the client is closed, and on graceful shutdown
    /// or cancellation calls `stop` (by default a plain stop request).
    func runUntilClosed(stop: (@Sendable () -> Void)? = nil) async {
        await withTaskCancellationOrGracefulShutdownHandler {
            await untilClosed()
        } onCancelOrGracefulShutdown: { [self] in
            if let stop { stop() } else { requestStop() }
        }
    }

    private func run(_ worker: any RDWorker) {
        if !stopRequested.load(ordering: .acquiring) { worker.start(handles) }
        var next = RDWait.again
        while true {
            let signalled = switch next {
            case .again: wake.drain()
            case .sleep(let deadline): wake.wait(until: deadline)
            }
            // A stop request is a signal like any other: the sleep it ends is the last.
            if signalled, stopRequested.load(ordering: .acquiring) { break }
            rd_kafka_queue_poll_callback(logs.raw, 0)
            next = worker.serve(handles)
        }
        accepting.withLock { $0 = false }
        worker.logger.debug("Kafka \(type(of: worker).role) closing")
        worker.close(handles)
        destroy()
        worker.logger.debug("Kafka \(type(of: worker).role) closed")
        closed.fulfill(.success(()))
    }

    /// Destroys the queues and the handle (the thread, or the initializer if `prepare` failed).
    private func destroy() {
        for queue in [events, replies, logs] {
            rd_kafka_queue_io_event_enable(queue.raw, -1, nil, 0)
        }
        rd_kafka_queue_poll_callback(logs.raw, 0)
        rd_kafka_set_log_queue(kafka.raw, nil)
        for queue in [events, replies, logs] {
            rd_kafka_queue_destroy(queue.raw)
        }
        if isConsumer {
            // The consumer worker has already left the group, within a bounded time.
            rd_kafka_destroy_flags(kafka.raw, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
        } else {
            rd_kafka_destroy(kafka.raw)
        }
    }
}
