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
    @Test("sends, presence events and acks reach their topics in publish order; each send's completion learns it was acknowledged")
    func publishes() async throws {
        let topics = Topics(prefix: TestEnvironment.uniquePrefix("edge-pub"))
        try await createTopics(TopicSetup.shared(topics, partitions: 1))
        let running = try RunningPublisher(edgeID: "edge-pub", topics: topics)

        let outcomes = Mutex<[String: Bool]>([:])
        let ids = (0..<100).map { "c\($0)" }
        for (i, id) in ids.enumerated() {
            let message = ChatMessage(msg: MessageID.make(), from: "alice", to: i.isMultiple(of: 2) ? "bob" : "carol", conv: Conversation.direct("alice", i.isMultiple(of: 2) ? "bob" : "carol"), body: "b", ts: 1, id: id)
            running.publisher.publishSend(InboundEnvelope(message: message, edge: "edge-pub", session: "s")) { result in
                outcomes.withLock { $0[id] = (try? result.get()) != nil }
            }
            if i.isMultiple(of: 10) {
                running.publisher.publishPresence(.heartbeat, user: nil, session: "\(i)", users: nil)
                running.publisher.publishAck(AckEnvelope(user: "alice", acks: [AckedMessage(msg: message.msg, from: nil, id: "\(i)")]))
            }
        }
        let settled = try await eventually("every send settled") { outcomes.withLock { $0.count == ids.count ? $0 : nil } }
        #expect(settled.values.allSatisfy { $0 }, "the broker acknowledged every send")

        let inbound = try await TopicReader.start(topics.inbound)
        let sends = try await inbound.waitFor(InboundEnvelope.self, "the sends") { $0.count == ids.count ? $0 : nil }
        #expect(sends.map(\.value.message.id) == ids)
        #expect(sends.allSatisfy { $0.key == $0.value.message.to })
        let events = try await TopicReader.start(topics.presenceEvents)
        let heartbeats = try await events.waitFor(PresenceEvent.self, "the heartbeats") { $0.count == 10 ? $0 : nil }
        #expect(heartbeats.map(\.value.session) == stride(from: 0, to: 100, by: 10).map { "\($0)" })
        #expect(heartbeats.allSatisfy { $0.key == "edge-pub" && $0.value.edge == "edge-pub" })
        let acks = try await TopicReader.start(topics.acks)
        let acked = try await acks.waitFor(AckEnvelope.self, "the acks") { $0.count == 10 ? $0 : nil }
        #expect(acked.flatMap(\.value.acks).compactMap(\.id) == stride(from: 0, to: 100, by: 10).map { "\($0)" })

        await inbound.stop()
        await events.stop()
        await acks.stop()
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
