import Foundation
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import Testing

/// Records produced straight into the topics (as anyone with topic write access could) with
/// ids no edge would accept: every consumer drops and counts them
/// (`parley_malformed_records_total{reason="invalid_id"}` for its topic) and stores nothing.
@Suite("forged envelopes", .serialized)
struct ForgedEnvelopeTests {
    /// A user id with braces and a line break, unique to this run so that Redis can be searched for it.
    static let tag = "INJECTED\(UUID().uuidString.prefix(8))"
    static let evil = "evil}{x\n\(tag)"

    /// The process-wide registry must exist before a service makes its counters, as in ServiceMain.
    init() { _ = ParleyMetrics.registry }

    @Test("relay-svc drops a chat.inbound message from a malformed user id; no conversation keys")
    func relay() async throws {
        let prefix = TestEnvironment.uniquePrefix("forged-relay")
        let relay = try await startRelay(prefix: prefix)
        let producer = try TestProducer("forged-relay")
        let topics = Topics(prefix: prefix)
        var message = chatMessage(in: Conversation.direct("alice", "bob"), from: "alice", body: "from nobody")
        message.from = Self.evil
        try await producer.send(inbound(message), topic: topics.inbound, key: message.conv)
        try await Self.waitForDrops(service: "relay-svc", topic: topics.inbound, count: 1)
        try await Self.expectNothingStored()
        await producer.shutdown()
        try await relay.stop()
    }

    @Test("offline-svc drops chat.inbox, chat.acks and chat.queries records for a malformed user id; no stream keys")
    func offline() async throws {
        let prefix = TestEnvironment.uniquePrefix("forged-offline")
        let offline = try await startOffline(prefix: prefix)
        let producer = try TestProducer("forged-offline")
        let topics = Topics(prefix: prefix)
        let entry = StreamEntry(kind: .message, msg: MessageID.make(), conv: Conversation.direct("alice", "bob"), cseq: 1,
                                from: "alice", body: "hi", ts: 1)
        try await producer.send(InboxEntry(user: Self.evil, entry: entry), topic: topics.inbox, key: "x")
        try await producer.send(CursorMove(kind: .ack, user: Self.evil, device: "phone", session: "s1", edge: "e1", seq: 1),
                                topic: topics.acks, key: "x")
        try await producer.send(QueryEnvelope(kind: .sync, user: Self.evil, device: "phone", session: "s1", edge: "e1"),
                                topic: topics.queries, key: "x")
        for topic in [topics.inbox, topics.acks, topics.queries] {
            try await Self.waitForDrops(service: "offline-svc", topic: topic, count: 1)
        }
        try await Self.expectNothingStored()
        await producer.shutdown()
        try await offline.stop()
    }

    @Test("presence-svc drops a connect of a malformed user id; no presence keys")
    func presence() async throws {
        let prefix = TestEnvironment.uniquePrefix("forged-presence")
        let presence = try await startPresence(prefix: prefix)
        let producer = try TestProducer("forged-presence")
        let topics = Topics(prefix: prefix)
        let event = PresenceEvent(kind: .connect, edge: "e1", user: Self.evil, session: "s1", ts: 1)
        try await producer.send(event, topic: topics.presenceEvents, key: "e1")
        try await Self.waitForDrops(service: "presence-svc", topic: topics.presenceEvents, count: 1)
        try await Self.expectNothingStored()
        await producer.shutdown()
        try await presence.stop()
    }

    @Test("ws-edge's deliver consumer drops a record for a malformed user id")
    func edgeDeliver() async throws {
        let prefix = TestEnvironment.uniquePrefix("forged-edge")
        let edgeID = uniqueID("forged")
        let edge = try await startEdge(prefix: prefix, edgeID: edgeID)
        let producer = try TestProducer("forged-edge")
        let topics = Topics(prefix: prefix)
        let entry = messageEntry(1, from: Self.evil, to: "bob")
        try await producer.send(DeliverEnvelope(user: "bob", entries: [entry]), topic: topics.deliver(edge: edgeID), key: "bob")
        try await Self.waitForDrops(service: "ws-edge", topic: topics.deliver(edge: edgeID), count: 1)
        await producer.shutdown()
        try await edge.stop()
    }

    /// Waits until the process-wide registry counts `count` records of `topic` dropped for an invalid id.
    static func waitForDrops(service: String, topic: String, count: Int) async throws {
        let series = #"parley_malformed_records_total{service="\#(service)",topic="\#(topic)",reason="invalid_id"} \#(count)"#
        try await waitUntil("\(service) to count \(count) forged record(s) of \(topic)") {
            var buffer: [UInt8] = []
            ParleyMetrics.registry.emit(into: &buffer)
            return String(decoding: buffer, as: UTF8.self).split(separator: "\n").contains { $0 == series }
        }
    }

    /// No key of the shared test Redis holds the forged id.
    static func expectNothingStored() async throws {
        let redis = try testRedis()
        let keys: RESPValue = try await redis.send(.raw(["KEYS", RedisArgument("*\(tag)*")]))
        #expect(keys == .array([]), "a forged id became a Redis key: \(keys)")
        await redis.close()
    }
}
