import CRDKafka
import Logging
import Synchronization

/// Work for the admin thread, and the promise its caller awaits.
struct AdminJob: Sendable {
    enum Work: Sendable {
        /// A blocking librdkafka call, bounded by its own timeout.
        case call(@Sendable (_ kafka: OpaquePointer) throws -> Void)
        /// An asynchronous admin request, answered on the reply queue.
        case request(AdminRequest)
    }

    let what: String
    let work: Work
    let promise = KafkaPromise<Void>()

    /// Fulfills the promise with the outcome of `body`.
    func settle(_ body: () throws -> Void) {
        do {
            try body()
            promise.fulfill(.success(()))
        } catch {
            fail(error)
        }
    }

    func fail(_ error: any Error) {
        promise.fulfill(.failure(error as? KafkaError ?? KafkaError(code: .state, message: "\(what) failed", underlying: error)))
    }
}

/// An admin API request (CreateTopics, DeleteTopics): `start` issues it with `options`, which
/// carry its timeouts and the id its result event comes back with; `check` reads that event.
struct AdminRequest: Sendable {
    let operation: rd_kafka_admin_op_t
    let timeout: Duration
    let start: @Sendable (_ kafka: OpaquePointer, _ options: OpaquePointer, _ replies: OpaquePointer) throws -> Void
    let check: @Sendable (_ event: OpaquePointer) throws -> Void
}

/// The jobs callers hand to the admin thread.
final class AdminShared: Sendable {
    private let state = Mutex((jobs: [AdminJob](), open: true))

    /// Queues `job`; false once the admin client is closing.
    func add(_ job: AdminJob) -> Bool {
        state.withLock { state in
            guard state.open else { return false }
            state.jobs.append(job)
            return true
        }
    }

    fileprivate func take() -> [AdminJob] {
        state.withLock { state in
            defer { state.jobs.removeAll() }
            return state.jobs
        }
    }

    /// Accepts no more jobs; returns those never started.
    fileprivate func close() -> [AdminJob] {
        state.withLock { state in
            state.open = false
            defer { state.jobs.removeAll() }
            return state.jobs
        }
    }
}

/// The admin client's thread-confined part (see ``RDWorker``): starts queued jobs, matches
/// request results to them, and fails those without an answer in time.
final class AdminWorker: RDWorker {
    private struct Pending {
        let job: AdminJob
        let request: AdminRequest
        let deadline: ContinuousClock.Instant
    }

    static let role = "admin"

    let logger: Logger
    private let shared: AdminShared
    private var pending: [UInt: Pending] = [:]
    private var nextID: UInt = 1

    init(shared: AdminShared, logger: Logger) {
        self.shared = shared
        self.logger = logger
    }

    func serve(_ handles: RDHandles) -> RDWait {
        rd_kafka_poll(handles.kafka, 0)  // error callbacks
        for job in shared.take() { start(job, handles) }
        while let event = rd_kafka_queue_poll(handles.replies, 0) { finish(event) }
        let now = ContinuousClock.now
        for (id, expired) in pending where expired.deadline <= now {
            pending[id] = nil
            expired.job.fail(KafkaError(code: .timedOut, message: "\(expired.job.what): no answer within \(expired.request.timeout)"))
        }
        return .sleep(until: pending.values.map(\.deadline).min())
    }

    private func start(_ job: AdminJob, _ handles: RDHandles) {
        switch job.work {
        case .call(let body):
            job.settle { try body(handles.kafka) }
        case .request(let request):
            do {
                let id = nextID
                nextID += 1
                try issue(request, id: id, handles)
                // librdkafka enforces the request timeout itself; the extra second lets its own
                // (more specific) timeout error arrive first.
                pending[id] = Pending(job: job, request: request, deadline: .now + request.timeout + .seconds(1))
            } catch {
                job.fail(error)
            }
        }
    }

    private func issue(_ request: AdminRequest, id: UInt, _ handles: RDHandles) throws {
        guard let options = rd_kafka_AdminOptions_new(handles.kafka, request.operation) else {
            throw KafkaError(code: .state, message: "rd_kafka_AdminOptions_new failed")
        }
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errstr = [CChar](repeating: 0, count: 512)
        let ms = Int32(max(1, request.timeout.milliseconds))
        _ = rd_kafka_AdminOptions_set_request_timeout(options, ms, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, ms, &errstr, errstr.count)
        rd_kafka_AdminOptions_set_opaque(options, UnsafeMutableRawPointer(bitPattern: id))
        try request.start(handles.kafka, options, handles.replies)
    }

    private func finish(_ event: OpaquePointer) {
        defer { rd_kafka_event_destroy(event) }
        guard let pending = pending.removeValue(forKey: UInt(bitPattern: rd_kafka_event_opaque(event))) else { return }
        pending.job.settle {
            let err = rd_kafka_event_error(event)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
                throw KafkaError(err, "\(pending.job.what) failed: \(text)")
            }
            try pending.request.check(event)
        }
    }

    func close(_ handles: RDHandles) {
        for job in shared.close() + pending.values.map(\.job) {
            job.fail(KafkaError.shutDown(job.what))
        }
        pending.removeAll()
    }
}
