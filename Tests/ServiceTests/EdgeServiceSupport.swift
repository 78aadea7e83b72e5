import Edge
import Foundation
import HTTPTypes
import JWTKit
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import Synchronization
import Testing

// What the edge's service tests share: starting edges, tokens, connecting clients, and a
// stand-in for offline-svc on the real broker.

/// The JWT secret the edges under test verify with.
let edgeSecret = "service-test-secret-0123456789-abcdefghij"  // >= 32 bytes: see the note on JWTKit in the report

/// Starts ws-edge `edgeID` on `prefix` with dev login on (plus `extra` flags), without relay-svc or presence-svc.
func startEdge(prefix: String, edgeID: String, extra: [String] = []) async throws -> RunningService {
    let arguments = serviceArguments(prefix: prefix, redis: false)
        + ["--edge-id", edgeID, "--dev-login", "true", "--jwt-secret", edgeSecret, "--web-root", "", "--heartbeat-interval", "1s"] + extra
    let configuration = try loadConfiguration(EdgeConfiguration.self, arguments)
    return try await RunningService.startEdge("edge-\(edgeID)") { logger, onServerRunning, onAdminRunning in
        try await buildEdge(configuration, logger: logger, onServerRunning: onServerRunning, onAdminRunning: onAdminRunning)
    }
}

/// Runs `body` against an edge of its own on topic prefix `prefix`: no dev login unless `extra`
/// turns it on, no web root, `extra` settings last. `body` gets the edge and its id.
func withOwnEdge<T: Sendable>(_ name: String, prefix: String, extra: [String],
                              _ body: (RunningService, String) async throws -> T) async throws -> T {
    let edgeID = uniqueID(name)
    let arguments = serviceArguments(prefix: prefix, redis: false) + ["--edge-id", edgeID, "--jwt-secret", edgeSecret, "--web-root", ""] + extra
    let configuration = try loadConfiguration(EdgeConfiguration.self, arguments)
    let edge = try await RunningService.startEdge(name) { logger, onServerRunning, onAdminRunning in
        try await buildEdge(configuration, logger: logger, onServerRunning: onServerRunning, onAdminRunning: onAdminRunning)
    }
    return try await withStarted(edge) { try await body($0, edgeID) }
}

/// A token signed like the edge's, or with another secret / expiry / subject.
private struct TestClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

func signToken(user: String, secret: String = edgeSecret, expires: Date = Date().addingTimeInterval(3600)) async throws -> String {
    let keys = JWTKeyCollection()
    await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
    return try await keys.sign(TestClaims(sub: .init(value: user), exp: .init(value: expires)))
}

/// Connects `user` (`parameters`: the query after `/ws?`, e.g. `device=d1&since=0`) and waits
/// for the welcome frame.
func connect(_ user: String, port: Int, edgeID: String, parameters: String? = nil) async throws -> (client: WebSocketTestClient, session: String) {
    let path = parameters.map { "/ws?\($0)" } ?? "/ws"
    let client = WebSocketTestClient(user, port: port, path: path, token: try await signToken(user: user))
    let welcome = try await client.next()
    try #require(welcome.type == "welcome", "first frame: \(welcome)")
    #expect(welcome.user == user)
    #expect(welcome.edge == edgeID)
    return (client, try #require(welcome.session))
}

/// A WebSocket upgrade request (what a browser sends), answered before any upgrade.
func upgradeStatus(port: Int, path: String, headers: HTTPFields = [:]) async throws -> HTTPResponse.Status {
    var fields: HTTPFields = [.connection: "Upgrade", .upgrade: "websocket", .secWebSocketVersion: "13",
                              .secWebSocketKey: "dGhlIHNhbXBsZSBub25jZQ=="]
    fields.append(contentsOf: headers)
    return try await httpRequest(port: port, .get, path, headers: fields).status
}

/// A `message` entry at `seq` (its `cseq` too) of the direct conversation of `from` and `to`.
func messageEntry(_ seq: UInt64, from: String, to: String, body: String? = nil, id: String? = nil) -> StreamEntry {
    var message = chatMessage(from: from, to: to, body: body ?? "m\(seq)", id: id)
    message.cseq = seq
    return .message(message, seq: seq)
}

/// The page answering a pull after `after` in epoch `e1`.
func syncPage(after: UInt64, head: UInt64, more: Bool = false, reset: Bool = false) -> SyncPage {
    SyncPage(epoch: "e1", head: head, after: after, more: more, reset: reset)
}

/// An envelope of a batched record with the record's key.
struct Keyed<T: Sendable>: Sendable {
    let key: String
    let value: T
}

/// The envelopes of `records` (each an ``EnvelopeBatch`` of them, or one) with their record's key.
func keyed<T: WireObject>(_ type: T.Type, _ records: [KafkaRecord]) -> [Keyed<T>] {
    records.flatMap { record -> [Keyed<T>] in
        let key = String(decoding: record.key ?? [], as: UTF8.self)
        if let batch = try? Envelope.decode(EnvelopeBatch<T>.self, from: record.value) { return batch.items.map { Keyed(key: key, value: $0) } }
        return (try? Envelope.decode(T.self, from: record.value)).map { [Keyed(key: key, value: $0)] } ?? []
    }
}

/// Plays offline-svc for an edge under test on the real broker: reads what the edge asks on
/// `chat.queries` and moves on `chat.acks`, and answers on `chat.deliver.<edge>`.
final class OfflineStandIn: Sendable {
    private let queryReader: TopicReader
    private let moveReader: TopicReader
    private let producer: TestProducer
    let deliverTopic: String

    private init(queryReader: TopicReader, moveReader: TopicReader, producer: TestProducer, deliverTopic: String) {
        self.queryReader = queryReader
        self.moveReader = moveReader
        self.producer = producer
        self.deliverTopic = deliverTopic
    }

    /// Reads `topics`' queries and acks from their beginning (tests tell theirs apart by user).
    static func start(topics: Topics, edgeID: String, producer: TestProducer) async throws -> OfflineStandIn {
        let queries = try await TopicReader.start(topics.queries, partitions: 2)
        do {
            let moves = try await TopicReader.start(topics.acks, partitions: 2)
            return OfflineStandIn(queryReader: queries, moveReader: moves, producer: producer, deliverTopic: topics.deliver(edge: edgeID))
        } catch {
            await queries.stop()
            throw error
        }
    }

    /// `user`'s queries so far, in order, with their records' keys.
    func queries(of user: String) -> [Keyed<QueryEnvelope>] {
        keyed(QueryEnvelope.self, queryReader.records).filter { $0.value.user == user }
    }

    /// `user`'s cursor moves so far, in order, with their records' keys.
    func moves(of user: String) -> [Keyed<CursorMove>] {
        keyed(CursorMove.self, moveReader.records).filter { $0.value.user == user }
    }

    /// Waits for `user`'s queries to include one that `matches`; returns the queries up to it.
    @discardableResult
    func waitForQuery(_ what: String, of user: String,
                      _ matches: @escaping @Sendable (QueryEnvelope) -> Bool) async throws -> [Keyed<QueryEnvelope>] {
        try await eventually("\(what) on chat.queries") { () -> [Keyed<QueryEnvelope>]? in
            let queries = self.queries(of: user)
            return queries.firstIndex { matches($0.value) }.map { Array(queries[...$0]) }
        }
    }

    /// Waits for `user`'s cursor moves to include one that `matches`; returns the moves up to it.
    @discardableResult
    func waitForMove(_ what: String, of user: String,
                     _ matches: @escaping @Sendable (CursorMove) -> Bool) async throws -> [Keyed<CursorMove>] {
        try await eventually("\(what) on chat.acks") { () -> [Keyed<CursorMove>]? in
            let moves = self.moves(of: user)
            return moves.firstIndex { matches($0.value) }.map { Array(moves[...$0]) }
        }
    }

    /// Produces `envelopes` to the edge's deliver topic as one record, in order.
    func deliver(_ envelopes: DeliverEnvelope...) async throws {
        try await producer.sendRaw(Envelope.encodeBatches(envelopes, maxBytes: .max)[0], topic: deliverTopic, key: envelopes[0].user)
    }

    func stop() async {
        await queryReader.stop()
        await moveReader.stop()
    }
}

/// A v2 session (device `device`, `since` if given) of `user` whose first pull was answered
/// with an empty page at `since` (head `since`), its `synced` read.
func startedSession(_ user: String, device: String = "d1", since: UInt64 = 0, port: Int, edgeID: String,
                    offline: OfflineStandIn) async throws -> (client: WebSocketTestClient, session: String) {
    let (client, session) = try await connect(user, port: port, edgeID: edgeID, parameters: "device=\(device)&since=\(since)&epoch=e1")
    try await offline.waitForQuery("the first pull", of: user) { $0.session == session && $0.subscribe }
    try await offline.deliver(DeliverEnvelope(user: user, sessions: [session], page: syncPage(after: since, head: since)))
    let synced = try await client.next()
    #expect(synced.type == "synced" && synced.seq == since)
    return (client, session)
}
