import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import Relay
import Testing

/// Starts relay-svc on `prefix` (plus `extra` flags).
func startRelay(prefix: String, extra: [String] = []) async throws -> RunningService {
    let configuration = try loadConfiguration(RelayConfiguration.self, serviceArguments(prefix: prefix) + extra)
    return try await RunningService.start("relay") { logger, onServerRunning in
        try await buildRelay(configuration, logger: logger, onServerRunning: onServerRunning)
    }
}

enum RelayShared {
    // Spelled out instead of @TaskLocal: the macro's `$stack` is not visible to the @Suite attribute.
    static let stack = TaskLocal<ServiceStack?>(wrappedValue: nil)
}

/// relay-svc alone against the broker and redis-server: presence is written into Redis by the
/// test (as presence-svc would), chat.inbound and chat.acks are fed by the test (as edges
/// would), and chat.inbox and chat.deliver.<edge> are read back.
@Suite("relay-svc", SharedStack(slot: RelayShared.stack, start: {
    try await ServiceStack.start("relay") { try await startRelay(prefix: $0) }
}))
struct RelayServiceTests {
    @Test("a message goes to chat.inbox, to the recipient's edges, and to the sender's other sessions only")
    func fanOut() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let edge1 = uniqueID("edge"), edge2 = uniqueID("edge")
        try await createDeliverTopics(topics, edges: [edge1, edge2])
        _ = try await stack.redis.send(.hset(RedisKeys.presence(bob), ["b1": edge1]))
        // alice sends from a1 on edge1; a3 (same edge) and a2 (edge2) are her other sessions.
        _ = try await stack.redis.send(.hset(RedisKeys.presence(alice), ["a1": edge1, "a3": edge1, "a2": edge2]))
        let inbox = try await TopicReader.start(topics.inbox, partitions: 2)
        let deliver1 = try await TopicReader.start(topics.deliver(edge: edge1))
        let deliver2 = try await TopicReader.start(topics.deliver(edge: edge2))

        let message = chatMessage(from: alice, to: bob, body: "hi bob")
        try await stack.producer.send(InboundEnvelope(message: message, edge: edge1, session: "a1"), topic: topics.inbound, key: bob)

        let routed = try await inbox.waitFor(InboxEnvelope.self, "the inbox record") { $0.first { $0.value.message.msg == message.msg } }
        #expect(routed.key == bob)
        #expect(routed.value.message == message)
        #expect(routed.value.delivered == ["b1"])

        let toBob = try await deliver1.waitFor(DeliverEnvelope.self, "bob's delivery") { $0.first { $0.value.user == bob } }
        #expect(toBob.key == bob)
        #expect(toBob.value.messages == [message])
        #expect(toBob.value.sessions == nil)
        #expect(toBob.value.exceptSession == nil)

        for (reader, edge) in [(deliver1, edge1), (deliver2, edge2)] {
            let copy = try await reader.waitFor(DeliverEnvelope.self, "alice's copy on \(edge)") { $0.first { $0.value.user == alice } }
            #expect(copy.key == alice)
            #expect(copy.value.messages == [message])
            #expect(copy.value.exceptSession == "a1", "the sending session must not get its own message back")
        }
        #expect(inbox.decoded(InboxEnvelope.self).filter { $0.value.message.msg == message.msg }.count == 1)

        await inbox.stop()
        await deliver1.stop()
        await deliver2.stop()
    }

    @Test("without presence only chat.inbox is written; a sender alone on its session gets no copy")
    func noPresence() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), carol = uniqueID("carol")
        let edge = uniqueID("edge")
        try await createDeliverTopics(topics, edges: [edge])
        _ = try await stack.redis.send(.hset(RedisKeys.presence(alice), ["a1": edge]))
        let inbox = try await TopicReader.start(topics.inbox, partitions: 2)
        let deliver = try await TopicReader.start(topics.deliver(edge: edge))

        let first = chatMessage(from: alice, to: carol, body: "are you there?")
        try await stack.producer.send(InboundEnvelope(message: first, edge: edge, session: "a1"), topic: topics.inbound, key: carol)
        let routed = try await inbox.waitFor(InboxEnvelope.self, "the inbox record") { $0.first { $0.value.message.msg == first.msg } }
        #expect(routed.value.delivered == [])

        // carol comes online; the next message (same partition, so routed after the first)
        // is the only record on the edge's deliver topic.
        _ = try await stack.redis.send(.hset(RedisKeys.presence(carol), ["c1": edge]))
        let second = chatMessage(from: alice, to: carol, body: "now?")
        try await stack.producer.send(InboundEnvelope(message: second, edge: edge, session: "a1"), topic: topics.inbound, key: carol)
        _ = try await deliver.waitFor(DeliverEnvelope.self, "the second message") { records in
            records.contains { $0.value.messages.contains { $0.msg == second.msg } } ? true : nil
        }
        let delivered = deliver.decoded(DeliverEnvelope.self)
        #expect(delivered.count == 1)
        #expect(delivered.first?.value.user == carol)
        #expect(delivered.first?.value.messages == [second])

        await inbox.stop()
        await deliver.stop()
    }

    @Test("a client retry (same sender and client id, new msg id) is dropped; the same msg id again is routed again")
    func deduplication() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let inbox = try await TopicReader.start(topics.inbox, partitions: 2)

        let original = chatMessage(from: alice, to: bob, body: "once", id: "c1")
        func inbound(_ message: ChatMessage) -> InboundEnvelope { InboundEnvelope(message: message, edge: "edge-x", session: "a1") }
        try await stack.producer.send(inbound(original), topic: topics.inbound, key: bob)
        _ = try await inbox.waitFor(InboxEnvelope.self, "the first routing") { $0.first { $0.value.message.msg == original.msg } }

        // A retry through another edge: same client id, another msg id. Then the original
        // record again (an edge or relay replay after a crash), then a new message.
        let retry = chatMessage(from: alice, to: bob, body: "once", id: "c1")
        let next = chatMessage(from: alice, to: bob, body: "twice", id: "c2")
        try await stack.producer.send(batch: [inbound(retry), inbound(original), inbound(next)], topic: topics.inbound) { _ in bob }
        _ = try await inbox.waitFor(InboxEnvelope.self, "the message after the retry") { $0.first { $0.value.message.msg == next.msg } }

        let routed = inbox.decoded(InboxEnvelope.self).filter { $0.key == bob }.map(\.value.message.msg)
        #expect(routed == [original.msg, original.msg, next.msg])
        #expect(try await stack.redis.send(.get(RedisKeys.dedup(alice, clientID: "c1"))) == original.msg)
        await inbox.stop()
    }

    @Test("messages to one recipient keep their order in chat.inbox and on the deliver topic")
    func order() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), dave = uniqueID("dave")
        let edge = uniqueID("edge")
        try await createDeliverTopics(topics, edges: [edge])
        _ = try await stack.redis.send(.hset(RedisKeys.presence(dave), ["d1": edge]))
        let inbox = try await TopicReader.start(topics.inbox, partitions: 2)
        let deliver = try await TopicReader.start(topics.deliver(edge: edge))

        let messages = (0..<12).map { chatMessage(from: alice, to: dave, body: "n\($0)") }
        for chunk in [messages[0..<3], messages[3..<4], messages[4..<9], messages[9...]] {
            try await stack.producer.send(batch: chunk.map { InboundEnvelope(message: $0, edge: "edge-x", session: "a1") },
                                          topic: topics.inbound) { _ in dave }
        }
        let expected = messages.map(\.msg)
        let inboxOrder = try await inbox.waitFor(InboxEnvelope.self, "12 inbox records") { records -> [String]? in
            let ids = records.filter { $0.key == dave }.map(\.value.message.msg)
            return ids.count >= expected.count ? ids : nil
        }
        // chat.inbox records carry batches on any partition (offline-svc orders the inbox by msg
        // id), so only the set matters there; the edge's deliveries keep the send order.
        #expect(inboxOrder.sorted() == expected.sorted())
        let deliverOrder = try await deliver.waitFor(DeliverEnvelope.self, "12 delivered messages") { records -> [String]? in
            let ids = records.filter { $0.value.user == dave }.flatMap(\.value.messages).map(\.msg)
            return ids.count >= expected.count ? ids : nil
        }
        #expect(deliverOrder == expected)
        await inbox.stop()
        await deliver.stop()
    }

    @Test("malformed chat.inbound records are skipped and the next good ones are routed")
    func malformedInbound() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), eve = uniqueID("eve")
        let inbox = try await TopicReader.start(topics.inbox, partitions: 2)

        try await stack.producer.sendRaw(Array("not json at all".utf8), topic: topics.inbound, key: eve)
        try await stack.producer.sendRaw(Array(#"{"v":1,"message":{"msg":42}}"#.utf8), topic: topics.inbound, key: eve)
        try await stack.producer.sendRaw([], topic: topics.inbound, key: eve)
        let good = chatMessage(from: alice, to: eve, body: "after the garbage")
        try await stack.producer.send(InboundEnvelope(message: good, edge: "edge-x", session: "a1"), topic: topics.inbound, key: eve)
        _ = try await inbox.waitFor(InboxEnvelope.self, "the good record") { $0.first { $0.value.message.msg == good.msg } }

        // Still running: a later message is routed too, and the process reports healthy.
        let later = chatMessage(from: alice, to: eve, body: "still there?")
        try await stack.producer.send(InboundEnvelope(message: later, edge: "edge-x", session: "a1"), topic: topics.inbound, key: eve)
        _ = try await inbox.waitFor(InboxEnvelope.self, "the later record") { $0.first { $0.value.message.msg == later.msg } }
        #expect(inbox.decoded(InboxEnvelope.self).filter { $0.key == eve }.map(\.value.message) == [good, later])
        #expect(try await httpRequest(port: stack.service.port, .get, "/healthz").status == .ok)
        await inbox.stop()
    }

    @Test("an ack naming its sender becomes a receipt on the sender's edges; acks without a sender do not")
    func receipts() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), bob = uniqueID("bob"), frank = uniqueID("frank")
        let edge1 = uniqueID("edge"), edge2 = uniqueID("edge")
        try await createDeliverTopics(topics, edges: [edge1, edge2])
        _ = try await stack.redis.send(.hset(RedisKeys.presence(alice), ["a1": edge1, "a2": edge1, "a3": edge2]))
        let deliver1 = try await TopicReader.start(topics.deliver(edge: edge1))
        let deliver2 = try await TopicReader.start(topics.deliver(edge: edge2))

        let acked = MessageID.make(), unknown = MessageID.make(), own = MessageID.make(), offline = MessageID.make()
        try await stack.producer.send(AckEnvelope(user: bob, acks: [
            AckedMessage(msg: acked, from: alice, id: "c1"),
            AckedMessage(msg: unknown, from: nil, id: nil),
            AckedMessage(msg: own, from: bob, id: "c9"),
            AckedMessage(msg: offline, from: frank, id: "c2"),
        ]), topic: topics.acks, key: bob)
        // A malformed ack record does not stop the acks consumer.
        try await stack.producer.sendRaw(Array("{".utf8), topic: topics.acks, key: bob)

        let expected = [AckedMessageReceipt(msg: acked, by: bob, id: "c1")]
        for reader in [deliver1, deliver2] {
            let receipt = try await reader.waitFor(DeliverEnvelope.self, "alice's receipt") { $0.first { $0.value.user == alice } }
            #expect(receipt.key == alice)
            #expect(receipt.value.receipts == expected)
            #expect(receipt.value.messages.isEmpty)
            #expect(receipt.value.sessions == nil && receipt.value.exceptSession == nil)
        }

        // A second ack after the malformed record still yields a receipt.
        let later = MessageID.make()
        try await stack.producer.send(AckEnvelope(user: bob, acks: [AckedMessage(msg: later, from: alice, id: "c3")]),
                                      topic: topics.acks, key: bob)
        _ = try await deliver1.waitFor(DeliverEnvelope.self, "the later receipt") { records in
            records.contains { $0.value.receipts.contains { $0.msg == later } } ? true : nil
        }
        let all = deliver1.decoded(DeliverEnvelope.self).flatMap(\.value.receipts).map(\.msg)
        #expect(all == [acked, later], "one record per (edge, user), no receipts for unknown, own or offline senders")
        await deliver1.stop()
        await deliver2.stop()
    }

    @Test("a restarted relay in the same group does not route again what the first one routed")
    func committedOffsets() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let prefix = TestEnvironment.uniquePrefix("relay-restart")
        let topics = Topics(prefix: prefix)
        let alice = uniqueID("alice"), gina = uniqueID("gina")
        func inbound(_ message: ChatMessage) -> InboundEnvelope { InboundEnvelope(message: message, edge: "edge-x", session: "a1") }

        let first = (0..<3).map { chatMessage(from: alice, to: gina, body: "m\($0)") }
        try await withService("relay-1", build: { logger, onServerRunning in
            let configuration = try loadConfiguration(RelayConfiguration.self, serviceArguments(prefix: prefix))
            return try await buildRelay(configuration, logger: logger, onServerRunning: onServerRunning)
        }) { _ in
            let inbox = try await TopicReader.start(topics.inbox, partitions: 2)
            for message in first { try await stack.producer.send(inbound(message), topic: topics.inbound, key: gina) }
            _ = try await inbox.waitFor(InboxEnvelope.self, "3 routed") { $0.count >= 3 ? true : nil }
            await inbox.stop()
        }

        let last = chatMessage(from: alice, to: gina, body: "after the restart")
        let second = try await startRelay(prefix: prefix)
        let inbox = try await TopicReader.start(topics.inbox, partitions: 2)
        try await stack.producer.send(inbound(last), topic: topics.inbound, key: gina)
        _ = try await inbox.waitFor(InboxEnvelope.self, "the message after the restart") { $0.first { $0.value.message.msg == last.msg } }
        // A re-routed earlier message would appear twice.
        #expect(inbox.decoded(InboxEnvelope.self).map(\.value.message.msg).sorted() == (first + [last]).map(\.msg).sorted())
        await inbox.stop()
        try await second.stop()
    }

    @Test("offsets are committed only after the outputs: a batch whose output fails is routed again after a restart")
    func noCommitBeforeOutputs() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let prefix = TestEnvironment.uniquePrefix("relay-fail")
        let topics = Topics(prefix: prefix)
        let alice = uniqueID("alice"), hank = uniqueID("hank")
        // hank is on an edge whose deliver topic does not exist yet: the produce fails.
        let ghost = uniqueID("ghost")
        _ = try await stack.redis.send(.hset(RedisKeys.presence(hank), ["h1": ghost]))
        let message = chatMessage(from: alice, to: hank, body: "stuck")

        let arguments = serviceArguments(prefix: prefix) + ["--kafka-message-timeout", "2s"]
        try await withService("relay-failing", build: { logger, onServerRunning in
            try await buildRelay(try loadConfiguration(RelayConfiguration.self, arguments), logger: logger, onServerRunning: onServerRunning)
        }) { _ in
            let inbox = try await TopicReader.start(topics.inbox, partitions: 2)
            try await stack.producer.send(InboundEnvelope(message: message, edge: "edge-x", session: "a1"), topic: topics.inbound, key: hank)
            // The inbox record goes out with each attempt; the deliver record cannot, so the
            // batch fails and is retried: two attempts show it was not given up (or committed).
            _ = try await inbox.waitFor(InboxEnvelope.self, "two attempts to route") { records in
                records.filter { $0.value.message.msg == message.msg }.count >= 2 ? true : nil
            }
            await inbox.stop()
        }

        try await createDeliverTopics(topics, edges: [ghost])
        let deliver = try await TopicReader.start(topics.deliver(edge: ghost))
        let second = try await startRelay(prefix: prefix)
        let delivered = try await deliver.waitFor(DeliverEnvelope.self, "the message routed by the new relay") {
            $0.first { $0.value.user == hank }
        }
        #expect(delivered.value.messages == [message])
        await deliver.stop()
        try await second.stop()
    }
}
