@testable import Edge
import Logging
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// The edge's publisher against the real broker.
@Suite("EdgePublisher")
struct EdgePublisherTests {
    @Test("sends, presence events, cursor moves and queries reach their topics in publish order; each completion learns it was acknowledged")
    func publishes() async throws {
        let topics = Topics(prefix: TestEnvironment.uniquePrefix("edge-pub"))
        try await createTopics(TopicSetup.shared(topics, partitions: 1))
        let running = try RunningPublisher(edgeID: "edge-pub", topics: topics)

        let outcomes = Mutex<[String: Bool]>([:])
        let ids = (0..<100).map { "c\($0)" }
        for (i, id) in ids.enumerated() {
            let peer = i.isMultiple(of: 2) ? "bob" : "carol"
            let message = ChatMessage(msg: MessageID.make(), from: "alice", to: peer, conv: Conversation.direct("alice", peer), body: "b",
                                      ts: 1, id: id)
            running.publisher.publishSend(InboundEnvelope(message: message, edge: "edge-pub", session: "s")) { result in
                outcomes.withLock { $0[id] = (try? result.get()) != nil }
            }
            if i.isMultiple(of: 10) {
                let user = i.isMultiple(of: 20) ? "alice" : "dave"
                running.publisher.publishPresence(.heartbeat, user: nil, session: "\(i)", users: nil)
                running.publisher.publishCursor(CursorMove(kind: .ack, user: user, device: "d", session: "s", edge: "edge-pub",
                                                           seq: UInt64(i), after: 0))
                running.publisher.publishQuery(QueryEnvelope(kind: .sync, user: user, device: "d", session: "s", edge: "edge-pub",
                                                             after: UInt64(i))) { result in
                    outcomes.withLock { $0["q\(i)"] = (try? result.get()) != nil }
                }
            }
        }
        let settled = try await eventually("every send and query settled") { outcomes.withLock { $0.count == ids.count + 10 ? $0 : nil } }
        #expect(settled.values.allSatisfy { $0 }, "the broker acknowledged every send and query")

        let inbound = try await TopicReader.start(topics.inbound)
        let sends = try await inbound.waitFor(InboundEnvelope.self, "the sends") { $0.count == ids.count ? $0 : nil }
        #expect(sends.map { $0.value.message?.id } == ids)
        #expect(sends.allSatisfy { $0.key == $0.value.conv })
        let events = try await TopicReader.start(topics.presenceEvents)
        let heartbeats = try await events.waitFor(PresenceEvent.self, "the heartbeats") { $0.count == 10 ? $0 : nil }
        #expect(heartbeats.map(\.value.session) == stride(from: 0, to: 100, by: 10).map { "\($0)" })
        #expect(heartbeats.allSatisfy { $0.key == "edge-pub" && $0.value.edge == "edge-pub" })

        // Cursor moves and queries: batched records keyed by their user, each user's in order.
        let cursors = try await TopicReader.start(topics.acks)
        let moves = try await eventually("the cursor moves") { () -> [(key: String, user: String, seq: UInt64?)]? in
            let items = keyedItems(CursorMove.self, cursors.records).map { ($0.key, $0.item.user, $0.item.seq) }
            return items.count == 10 ? items : nil
        }
        let queryReader = try await TopicReader.start(topics.queries)
        let queries = try await eventually("the queries") { () -> [(key: String, user: String, seq: UInt64?)]? in
            let items = keyedItems(QueryEnvelope.self, queryReader.records).map { ($0.key, $0.item.user, $0.item.after) }
            return items.count == 10 ? items : nil
        }
        for (name, items) in [("cursor moves", moves), ("queries", queries)] {
            #expect(items.allSatisfy { $0.key == $0.user }, "\(name) are keyed by their user")
            for user in ["alice", "dave"] {
                let expected = stride(from: user == "alice" ? 0 : 10, to: 100, by: 20).map { UInt64($0) }
                #expect(items.filter { $0.user == user }.map(\.seq) == expected, "\(user)'s \(name) in order")
            }
        }
        await cursors.stop()
        await queryReader.stop()
        await inbound.stop()
        await events.stop()
        try await running.stop()
    }

    @Test("graceful shutdown flushes what was queued; later sends fail at once with shutting_down")
    func shutdown() async throws {
        let topics = Topics(prefix: TestEnvironment.uniquePrefix("edge-pub-stop"))
        try await createTopics(TopicSetup.shared(topics, partitions: 1))
        let running = try RunningPublisher(edgeID: "edge-pub-stop", topics: topics)

        let outcomes = Mutex<[String: Result<Void, any Error>]>([:])
        func send(_ id: String) {
            let message = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob", body: "b", ts: 1, id: id)
            running.publisher.publishSend(InboundEnvelope(message: message, edge: "e", session: "s")) { result in
                outcomes.withLock { $0[id] = result }
            }
        }
        send("before")
        try await running.stop()
        #expect(outcomes.withLock { (try? $0["before"]?.get()) != nil }, "settled and acknowledged before run() returned")

        send("after")
        let after = try #require(outcomes.withLock { $0["after"] })
        #expect(throws: EdgeError.self) { try after.get() }
        if case .failure(let error as EdgeError) = after { #expect(error.code == .shuttingDown) }
    }
}

/// The items of batched records (``EnvelopeBatch``) with their record's key.
private func keyedItems<T: WireObject>(_ type: T.Type, _ records: [KafkaRecord]) -> [(key: String, item: T)] {
    records.flatMap { record -> [(key: String, item: T)] in
        let key = String(decoding: record.key ?? [], as: UTF8.self)
        return ((try? Envelope.decode(EnvelopeBatch<T>.self, from: record.value))?.items ?? []).map { (key, $0) }
    }
}

/// An ``EdgePublisher`` running in a service group, with its producer.
private struct RunningPublisher {
    let producer: KafkaProducer
    let publisher: EdgePublisher
    let group: ServiceGroup
    let run: Task<Void, any Error>

    init(edgeID: String, topics: Topics) throws {
        let logger = serviceLogger("edge-publisher")
        producer = try KafkaProducer(configuration: testKafkaConfiguration("edge-publisher"), logger: logger)
        publisher = EdgePublisher(producer: producer, edgeID: edgeID, topics: topics, logger: logger)
        let group = ServiceGroup(services: [publisher], logger: logger)
        self.group = group
        run = Task { try await group.run() }
    }

    /// Shuts the publisher down gracefully (it returns once every batch settled), then the producer.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await run.value
        await producer.shutdown(timeout: .seconds(5))
    }
}
