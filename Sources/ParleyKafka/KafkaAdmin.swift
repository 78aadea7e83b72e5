import CRDKafka
import Dispatch
import Logging
import Synchronization

/// Creates and deletes topics. Every blocking wait runs on the admin client's own thread.
public final class KafkaAdmin: Sendable {
    private let core: AdminCore

    /// Creates the admin client and starts its thread.
    public init(configuration: KafkaConfiguration, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "parley.kafka.client"] = "\(configuration.clientID)"
        core = try AdminCore(configuration: configuration, logger: logger)
    }

    deinit { core.requestShutdown() }

    /// Creates the topics. A topic that already exists counts as success (its partition count
    /// is not checked). Throws ``KafkaError`` naming the first topic that failed, or
    /// ``KafkaError/Code/timedOut`` if the broker did not answer within `timeout`.
    public func createTopics(_ topics: [KafkaTopicSpec], timeout: Duration) async throws {
        guard !topics.isEmpty else { return }
        try await core.run("create topics") { handle, queue in
            try AdminCore.createTopics(handle, queue, topics, timeout: timeout)
        }
        core.logger.debug("Kafka topics ready", metadata: ["parley.topics": "\(topics.map(\.name).joined(separator: ","))"])
    }

    /// Deletes the topics. A topic that does not exist counts as success.
    public func deleteTopics(_ names: [String], timeout: Duration) async throws {
        guard !names.isEmpty else { return }
        try await core.run("delete topics") { handle, queue in
            try AdminCore.deleteTopics(handle, queue, names, timeout: timeout)
        }
    }

    /// The number of partitions `topic` has, from the broker's metadata.
    public func partitionCount(of topic: String, timeout: Duration) async throws -> Int32 {
        let count = Mutex<Int32>(0)
        try await core.run("read metadata") { handle, _ in
            let found = try AdminCore.partitionCount(handle, topic, timeout: timeout)
            count.withLock { $0 = found }
        }
        return count.withLock { $0 }
    }

    /// Destroys the handle; later calls throw ``KafkaError/Code/shutDown``. Idempotent.
    public func shutdown() async {
        core.requestShutdown()
        try? await core.closed.value()
    }
}

final class AdminCore: RDClientEvents {
    typealias Job = @Sendable (OpaquePointer, OpaquePointer) -> Void

    let logger: Logger
    let closed = KafkaPromise<Void>()
    private let jobs = Mutex<(items: [Job], stopping: Bool)>(([], false))
    private let wakeup = DispatchSemaphore(value: 0)

    init(configuration: KafkaConfiguration, logger: Logger) throws {
        self.logger = logger
        let context = RDClientContext(logger: logger, events: self)
        let client = try RDClient(type: RD_KAFKA_PRODUCER, properties: configuration.adminProperties, context: context,
                                  logsOnMainQueue: true)
        guard let queue = rd_kafka_queue_new(client.handle.raw) else {
            client.destroy()
            throw KafkaError(code: .state, message: "cannot create the admin result queue")
        }
        let results = RDPointer(raw: queue)
        startKafkaThread(name: "parley-kafka-admin") { [self] in run(client, results: results) }
    }

    func requestShutdown() {
        jobs.withLock { $0.stopping = true }
        wakeup.signal()
    }

    /// Runs `body` on the admin thread with the handle and a private result queue.
    func run(_ what: String, _ body: @escaping @Sendable (OpaquePointer, OpaquePointer) throws -> Void) async throws {
        let promise = KafkaPromise<Void>()
        let accepted = jobs.withLock { state -> Bool in
            guard !state.stopping else { return false }
            state.items.append { handle, queue in
                do {
                    try body(handle, queue)
                    promise.fulfill(.success(()))
                } catch let error as KafkaError {
                    promise.fulfill(.failure(error))
                } catch {
                    promise.fulfill(.failure(KafkaError(code: .state, message: "\(what) failed", underlying: error)))
                }
            }
            return true
        }
        guard accepted else { throw KafkaError.shutDown(what) }
        wakeup.signal()
        try await promise.value()
    }

    private func run(_ client: RDClient, results: RDPointer) {
        let handle = client.handle.raw
        let queue = results.raw
        while true {
            _ = wakeup.wait(timeout: .now() + .milliseconds(200))
            rd_kafka_poll(handle, 0)
            let (batch, stopping) = jobs.withLock { state in
                defer { state.items.removeAll() }
                return (state.items, state.stopping)
            }
            for job in batch { job(handle, queue) }
            if stopping { break }
        }
        client.stopAccepting()
        rd_kafka_queue_destroy(queue)
        client.destroy()
        closed.fulfill(.success(()))
    }

    func clientError(_ handle: OpaquePointer, _ err: Int32, _ reason: String) {
        logClientError(logger, handle, err, reason, role: "admin")
    }

    // MARK: Operations (admin thread)

    static func partitionCount(_ handle: OpaquePointer, _ topic: String, timeout: Duration) throws -> Int32 {
        guard let topicHandle = rd_kafka_topic_new(handle, topic, nil) else {
            throw KafkaError(code: .invalidArgument, message: "cannot create a handle for topic \(topic)")
        }
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 0, topicHandle, &metadata, Int32(timeout.components.seconds * 1000))
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

    static func createTopics(_ handle: OpaquePointer, _ queue: OpaquePointer, _ topics: [KafkaTopicSpec], timeout: Duration) throws {
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
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
        let options = try adminOptions(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout: timeout)
        defer { rd_kafka_AdminOptions_destroy(options) }
        newTopics.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
        }
        try awaitResult(queue, timeout: timeout, what: "create topics") { event in
            guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
            try checkTopicResults(results, count, ignoring: RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, verb: "create")
        }
    }

    static func deleteTopics(_ handle: OpaquePointer, _ queue: OpaquePointer, _ names: [String], timeout: Duration) throws {
        var deleteTopics: [OpaquePointer?] = names.map { rd_kafka_DeleteTopic_new($0) }
        defer { for topic in deleteTopics { rd_kafka_DeleteTopic_destroy(topic) } }
        let options = try adminOptions(handle, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout: timeout)
        defer { rd_kafka_AdminOptions_destroy(options) }
        deleteTopics.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_DeleteTopics(handle, buffer.baseAddress, buffer.count, options, queue)
        }
        try awaitResult(queue, timeout: timeout, what: "delete topics") { event in
            guard let result = rd_kafka_event_DeleteTopics_result(event) else { return }
            var count = 0
            guard let results = rd_kafka_DeleteTopics_result_topics(result, &count) else { return }
            try checkTopicResults(results, count, ignoring: RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, verb: "delete")
        }
    }

    private static func adminOptions(_ handle: OpaquePointer, _ op: rd_kafka_admin_op_t, timeout: Duration) throws -> OpaquePointer {
        guard let options = rd_kafka_AdminOptions_new(handle, op) else {
            throw KafkaError(code: .state, message: "rd_kafka_AdminOptions_new failed")
        }
        var errstr = [CChar](repeating: 0, count: 512)
        let ms = Int32(max(1, timeout.milliseconds))
        _ = rd_kafka_AdminOptions_set_request_timeout(options, ms, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, ms, &errstr, errstr.count)
        return options
    }

    /// Waits (admin thread) for the operation's result event and checks it.
    private static func awaitResult(_ queue: OpaquePointer, timeout: Duration, what: String, _ check: (OpaquePointer) throws -> Void) throws {
        // librdkafka enforces the request timeout itself; the extra second lets its own
        // (more specific) timeout error arrive first.
        guard let event = rd_kafka_queue_poll(queue, Int32(timeout.milliseconds) + 1000) else {
            throw KafkaError(code: .timedOut, message: "\(what): no answer within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        let err = rd_kafka_event_error(event)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            throw KafkaError(err, "\(what) failed: \(text)")
        }
        try check(event)
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
