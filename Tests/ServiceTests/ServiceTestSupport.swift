import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import ServiceLifecycle
import Synchronization
import Testing

// Shared helpers of the service tests: run a service's ServiceGroup in the test process, feed
// and read its topics on the shared test broker, and look at the shared test redis-server.

// MARK: - Logging and waiting

/// A logger for services under test: quiet (critical only, since several tests feed malformed
/// records on purpose) unless PARLEY_TEST_LOG_LEVEL says otherwise (e.g. `debug`).
func serviceLogger(_ name: String) -> Logger {
    var logger = Logger(label: "parley.service-test.\(name)")
    logger.logLevel = ProcessInfo.processInfo.environment["PARLEY_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}

// MARK: - Running a service

/// The standard flags of a service under test: the shared broker and redis-server, a private
/// topic prefix, 2 partitions, a 2 s session timeout, an ephemeral admin port (and, for ws-edge,
/// `redis: false`, an ephemeral public port).
func serviceArguments(prefix: String, redisURL: String = TestEnvironment.redisURL, redis: Bool = true) -> [String] {
    var arguments = ["--kafka-brokers", TestEnvironment.kafkaBrokers, "--topic-prefix", prefix,
                     "--topic-partitions", "2", "--kafka-session-timeout", "2s", "--admin-port", "0"]
    arguments += redis ? ["--redis-url", redisURL] : ["--http-port", "0"]
    return arguments
}

/// Loads a configuration from flags, failing the test on `--help` or a bad value.
func loadConfiguration<C: ServiceConfiguration>(_ type: C.Type, _ arguments: [String]) throws -> C {
    switch try C.load(arguments: arguments, environment: [:]) {
    case .run(let configuration): return configuration
    case .help(let text): throw TestTimeout(what: "a configuration, got help: \(text.prefix(80))")
    }
}

/// One service's ServiceGroup running inside the test process, with the ports its servers bound.
final class RunningService: Sendable {
    let name: String
    /// ws-edge: its public port; the other services: their admin port (their only one).
    let port: Int
    /// The admin port: /healthz, /readyz, /metrics (ws-edge: and the server API).
    let adminPort: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(name: String, port: Int, adminPort: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.name = name
        self.port = port
        self.adminPort = adminPort
        self.group = group
        self.task = task
    }

    /// Builds the services (`build` gets the onServerRunning callback of their one server, the
    /// admin server), runs them in a ServiceGroup and waits until `GET /readyz` answers 200.
    static func start(
        _ name: String,
        build: @Sendable (_ logger: Logger, _ onServerRunning: @escaping @Sendable (Int) async -> Void) async throws -> [any Service]
    ) async throws -> RunningService {
        try await start(name, servers: 1) { logger, ports in try await build(logger) { ports.bound(0, $0) } }
    }

    /// ws-edge: `build` gets the callbacks of its public server and its admin server.
    static func startEdge(
        _ name: String,
        build: @Sendable (_ logger: Logger, _ onServerRunning: @escaping @Sendable (Int) async -> Void,
                          _ onAdminRunning: @escaping @Sendable (Int) async -> Void) async throws -> [any Service]
    ) async throws -> RunningService {
        try await start(name, servers: 2) { logger, ports in try await build(logger, { ports.bound(0, $0) }, { ports.bound(1, $0) }) }
    }

    private static func start(
        _ name: String, servers: Int, build: @Sendable (_ logger: Logger, _ ports: BoundPorts) async throws -> [any Service]
    ) async throws -> RunningService {
        let logger = serviceLogger(name)
        let ports = BoundPorts(count: servers)
        let services = try await build(logger, ports)
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let task = Task { try await group.run() }
        let bound: [Int]
        do {
            bound = try await eventually("\(name) to bind its HTTP ports") { ports.all }
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            throw error
        }
        let service = RunningService(name: name, port: bound[0], adminPort: bound.last!, group: group, task: task)
        do {
            try await service.waitUntilReady()
        } catch {
            try? await service.stop()
            throw error
        }
        return service
    }

    /// Waits until `/readyz` answers 200 (consumers assigned, Redis up).
    func waitUntilReady() async throws {
        let port = adminPort
        try await waitUntil("\(name) /readyz", interval: .milliseconds(50)) {
            (try? await httpRequest(port: port, .get, "/readyz").status) == .ok
        }
    }

    /// Graceful shutdown, as on SIGTERM; waits (bounded) for every service to stop.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        let task = task
        do {
            try await withTimeout(.seconds(30), "\(name) to shut down") { try await task.value }
        } catch let timeout as TestTimeout {
            task.cancel()
            throw timeout
        }
    }
}

/// The ports a service's servers bound, by server.
final class BoundPorts: Sendable {
    private let ports: Mutex<[Int?]>

    init(count: Int) { ports = Mutex(Array(repeating: nil, count: count)) }

    func bound(_ server: Int, _ port: Int) { ports.withLock { $0[server] = port } }

    /// Every port, once every server bound one.
    var all: [Int]? {
        ports.withLock { ports in ports.contains(nil) ? nil : ports.compactMap { $0 } }
    }
}

/// Runs `body` with a freshly started service and always stops it afterwards.
func withService<T: Sendable>(
    _ name: String,
    build: @Sendable (_ logger: Logger, _ onServerRunning: @escaping @Sendable (Int) async -> Void) async throws -> [any Service],
    _ body: (RunningService) async throws -> T
) async throws -> T {
    try await withStarted(try await RunningService.start(name, build: build), body)
}

/// Runs `body` with a started service and always stops it afterwards.
func withStarted<T: Sendable>(_ service: RunningService, _ body: (RunningService) async throws -> T) async throws -> T {
    let result: T
    do {
        result = try await body(service)
    } catch {
        try? await service.stop()
        throw error
    }
    try await service.stop()
    return result
}

// MARK: - HTTP

struct HTTPResult: Sendable {
    let status: HTTPResponse.Status
    let body: String
}

/// One HTTP/1.1 request to 127.0.0.1:`port` on its own connection.
func httpRequest(port: Int, _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: String? = nil) async throws -> HTTPResult {
    try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(10))) { client in
        let response = try await client.execute(.init(path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }))
        return HTTPResult(status: response.status, body: response.body.map { String(buffer: $0) } ?? "")
    }
}

// MARK: - Kafka

/// Client settings for the test's own producers, readers and admin client.
func testKafkaConfiguration(_ name: String) -> KafkaConfiguration {
    var configuration = KafkaConfiguration(brokers: TestEnvironment.kafkaBrokers, clientID: "service-test-\(name)")
    configuration.sessionTimeout = .seconds(2)
    return configuration
}

/// Creates topics (e.g. an edge's deliver topic, which only the edge itself would create).
func createTopics(_ specs: [KafkaTopicSpec]) async throws {
    let admin = try KafkaAdmin(configuration: testKafkaConfiguration("admin"), logger: serviceLogger("admin"))
    do {
        try await admin.createTopics(specs, timeout: .seconds(10))
    } catch {
        await admin.shutdown()
        throw error
    }
    await admin.shutdown()
}

/// Creates the one-partition `chat.deliver.<edge>` topic of each edge, as each edge would at start.
func createDeliverTopics(_ topics: Topics, edges: [String]) async throws {
    try await createTopics(edges.map { TopicSetup.deliver(topics, edge: $0) })
}

/// Produces envelopes; every send waits for the broker's acknowledgement.
final class TestProducer: Sendable {
    let producer: KafkaProducer

    init(_ name: String) throws {
        producer = try KafkaProducer(configuration: testKafkaConfiguration(name), logger: serviceLogger("producer-\(name)"))
    }

    /// Sends one envelope keyed by `key`.
    func send<T: WireObject>(_ envelope: T, topic: String, key: String) async throws {
        _ = try await producer.send(KafkaOutgoingRecord(topic: topic, key: Array(key.utf8), value: encodeRecord(envelope)))
    }

    /// Sends raw bytes keyed by `key` (malformed records).
    func sendRaw(_ value: [UInt8], topic: String, key: String) async throws {
        _ = try await producer.send(KafkaOutgoingRecord(topic: topic, key: Array(key.utf8), value: value))
    }

    /// Sends envelopes as one ordered produce batch.
    func send<T: WireObject>(batch envelopes: [T], topic: String, key: (T) -> String) async throws {
        _ = try await producer.send(batch: envelopes.map {
            KafkaOutgoingRecord(topic: topic, key: Array(key($0).utf8), value: encodeRecord($0))
        })
    }

    func shutdown() async { await producer.shutdown(timeout: .seconds(5)) }
}

/// Reads a topic (every partition, manual assignment) in the background and keeps what it read.
final class TopicReader: Sendable {
    let topic: String
    private let consumer: KafkaConsumer
    private let received = Mutex<[KafkaRecord]>([])
    private let reader = Mutex<Task<Void, Never>?>(nil)

    /// Starts reading `topic` from `start` and waits until its partitions are assigned (for
    /// `.end`: every record produced after this returns is seen).
    static func start(_ topic: String, partitions: Int32 = 1, from start: KafkaStartOffset = .beginning) async throws -> TopicReader {
        let consumer = try KafkaConsumer(configuration: testKafkaConfiguration("reader"),
                                         assignments: (0..<partitions).map { (topic: topic, partition: $0, start: start) },
                                         logger: serviceLogger("reader"))
        let reader = TopicReader(topic: topic, consumer: consumer)
        let task = Task {
            while let batch = try? await consumer.nextBatch(maxCount: 1000) {
                reader.received.withLock { $0 += batch }
            }
        }
        reader.reader.withLock { $0 = task }
        try await consumer.waitUntilAssigned(timeout: conditionTimeout)
        return reader
    }

    private init(topic: String, consumer: KafkaConsumer) {
        self.topic = topic
        self.consumer = consumer
    }

    /// Every record read so far, per partition in offset order.
    var records: [KafkaRecord] { received.withLock { $0 } }

    /// The records read so far that decode as `T`, with their keys.
    /// The records' envelopes with their keys. Batched records (chat.inbox, chat.acks,
    /// chat.queries, chat.deliver.*) are flattened; their items are keyed by the user they concern.
    func decoded<T: WireObject>(_ type: T.Type) -> [(key: String, value: T)] {
        records.flatMap { record -> [(key: String, value: T)] in
            if let batch = try? Envelope.decode(EnvelopeBatch<T>.self, from: record.value) {
                return batch.items.map { ((($0 as? KeyedByUser)?.userKey) ?? "", $0) }
            }
            guard let value = try? Envelope.decode(type, from: record.value) else { return [] }
            return [(String(decoding: record.key ?? [], as: UTF8.self), value)]
        }
    }

    /// Waits until `check` finds what it wants among the decoded records.
    func waitFor<T: WireObject, R: Sendable>(
        _ type: T.Type, _ what: String, timeout: Duration = conditionTimeout,
        _ check: @escaping @Sendable ([(key: String, value: T)]) -> R?
    ) async throws -> R {
        try await eventually("\(what) on \(topic)", timeout: timeout) { check(self.decoded(type)) }
    }

    func stop() async {
        await consumer.shutdown()
        let task = reader.withLock { $0 }
        await task?.value
    }
}

// MARK: - Redis

/// A client for the shared test redis-server (or one of its databases).
func testRedis(url: String = TestEnvironment.redisURL) throws -> RedisClient {
    RedisClient(configuration: try RedisConfiguration(url: url, poolSize: 2), logger: serviceLogger("redis"))
}

// MARK: - Ids and messages

/// A user, session or edge id no other test uses (Redis keys are shared between tests).
func uniqueID(_ name: String) -> String { "\(name)-\(UUID().uuidString.prefix(8).lowercased())" }

/// A message id for a chosen time that does not move ``MessageID``'s process-wide clock (so a
/// test can make ids in the past without affecting the ids other tests make).
func messageID(unixMilliseconds: UInt64) -> String {
    let bound = MessageID.lowerBound(unixMilliseconds: unixMilliseconds)
    let random = (0..<12).map { _ in "0123456789abcdef".randomElement()! }
    return String(bound.dropLast(12)) + String(random)
}

/// A chat message with a new, time-ordered id.
func chatMessage(from: String, to: String, body: String, id: String? = nil, msg: String = MessageID.make()) -> ChatMessage {
    ChatMessage(msg: msg, from: from, to: to, conv: Conversation.direct(from, to), body: body, ts: MessageID.unixMilliseconds(of: msg) ?? UnixTime.nowMilliseconds,
                id: id ?? uniqueID("c"))
}

// MARK: - One service per suite

/// What a suite shares: one running service on a private topic prefix, a producer and a Redis
/// client. Tests of the suite use unique user ids so they do not see each other's data.
final class ServiceStack: Sendable {
    let topics: Topics
    let producer: TestProducer
    let redis: RedisClient
    let service: RunningService

    private init(topics: Topics, producer: TestProducer, redis: RedisClient, service: RunningService) {
        self.topics = topics
        self.producer = producer
        self.redis = redis
        self.service = service
    }

    /// Starts the service `start` builds for a fresh prefix.
    static func start(_ name: String, _ start: @Sendable (_ prefix: String) async throws -> RunningService) async throws -> ServiceStack {
        let prefix = TestEnvironment.uniquePrefix(name)
        let service = try await start(prefix)
        do {
            return ServiceStack(topics: Topics(prefix: prefix), producer: try TestProducer(name), redis: try testRedis(), service: service)
        } catch {
            try? await service.stop()
            throw error
        }
    }

    func stop() async throws {
        await producer.shutdown()
        await redis.close()
        try await service.stop()
    }
}

/// A suite trait that starts one ``ServiceStack`` for the whole suite, publishes it in `slot`
/// while the suite's tests run, and shuts it down gracefully afterwards.
struct SharedStack: SuiteTrait, TestScoping {
    let slot: TaskLocal<ServiceStack?>
    let start: @Sendable () async throws -> ServiceStack

    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let stack = try await start()
        do {
            try await slot.withValue(stack) { try await function() }
        } catch {
            try? await stack.stop()
            throw error
        }
        try await stack.stop()
    }
}

/// The suite's stack; fails the test when the suite runs without its ``SharedStack`` trait.
func sharedStack(_ slot: TaskLocal<ServiceStack?>) throws -> ServiceStack {
    try #require(slot.get(), "the suite's SharedStack trait did not run")
}

// MARK: - Batched records

/// Envelopes that travel in batched records, with the user each concerns (the key a
/// one-envelope record would have had).
protocol KeyedByUser { var userKey: String { get } }
extension InboxEntry: KeyedByUser { var userKey: String { user } }
extension DeliverEnvelope: KeyedByUser { var userKey: String { user } }
extension CursorMove: KeyedByUser { var userKey: String { user } }
extension QueryEnvelope: KeyedByUser { var userKey: String { user } }

/// A record's value as the services write it: batched envelopes in an `EnvelopeBatch`.
func encodeRecord<T: WireObject>(_ envelope: T) -> [UInt8] {
    envelope is KeyedByUser ? Envelope.encodeBatches([envelope], maxBytes: .max)[0] : Envelope.encode(envelope)
}
