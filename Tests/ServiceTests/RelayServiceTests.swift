import MetricsTestKit
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

/// relay-svc alone against the broker and redis-server: chat.inbound is fed by the test (as
/// edges would), chat.inbox and the conversation logs in Redis are read back.
@Suite("relay-svc", SharedStack(slot: RelayShared.stack, start: {
    try await ServiceStack.start("relay") { try await startRelay(prefix: $0) }
}))
struct RelayServiceTests {
    @Test("interleaved sends of both sides get cseq 1, 2, 3; every member gets every entry on its own partition, the sender included")
    func gapFreeFanOut() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let (alice, bob) = usersOnTwoPartitions("alice", "bob")
        let conv = Conversation.direct(alice, bob)
        let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)

        var sent = [chatMessage(in: conv, from: alice, body: "hi"), chatMessage(in: conv, from: bob, body: "hey"),
                    chatMessage(in: conv, from: alice, body: "how are you?")]
        // The edge leaves `to` out at times: relay sets it to the dm peer.
        var withoutTo = sent[1]
        withoutTo.to = nil
        try await stack.producer.send(inbound(sent[0]), topic: topics.inbound, key: conv)
        try await stack.producer.send(batch: [inbound(withoutTo), inbound(sent[2])], topic: topics.inbound) { _ in conv }
        sent = sent.enumerated().map { $1.stored(at: UInt64($0 + 1)) }

        let entries = try await inbox.waitForEntries(of: sent.map(\.msg), count: 6)
        for user in [alice, bob] {
            let mine = entries.filter { $0.user == user }
            #expect(mine.map(\.entry) == sent.map { StreamEntry.message($0) }, "\(user)'s entries, in cseq order")
            #expect(mine.allSatisfy { $0.partition == StreamPartition.of(user, count: testTopicPartitions) })
        }
        #expect(try await conversationLog(stack.redis, conv).map(\.message) == sent)
        let meta = try await conversationMeta(stack.redis, conv)
        #expect(meta["n"] == "3")
        #expect(meta["e"]?.isEmpty == false, "the conversation got its epoch at first use")
        await inbox.stop()
    }

    @Test("a client retry (same sender and client id, another msg) gets the first cseq and msg; the log holds the message once")
    func clientRetry() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let conv = Conversation.direct(alice, bob)
        let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)

        let original = chatMessage(in: conv, from: alice, body: "once", id: "c1")
        try await stack.producer.send(inbound(original), topic: topics.inbound, key: conv)
        _ = try await inbox.waitForEntries(of: [original.msg], count: 2)

        // The retry through another edge: same client id, a new msg id (and a later ts).
        let retry = chatMessage(in: conv, from: alice, body: "once", id: "c1")
        let next = chatMessage(in: conv, from: bob, body: "twice", id: "c1")  // bob's own c1 is another message
        try await stack.producer.send(batch: [inbound(retry), inbound(next)], topic: topics.inbound) { _ in conv }
        _ = try await inbox.waitForEntries(of: [next.msg], count: 2)

        let first = StreamEntry.message(original.stored(at: 1))
        for user in [alice, bob] {
            #expect(inbox.inboxEntries.filter { $0.user == user }.map(\.entry) == [first, first, .message(next.stored(at: 2))])
        }
        #expect(try await conversationLog(stack.redis, conv).map(\.message) == [original.stored(at: 1), next.stored(at: 2)])
        await inbox.stop()
    }

    @Test("the same record handled twice gives identical entries with the same cseq, and one log entry")
    func replayedRecord() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), carol = uniqueID("carol")
        let conv = Conversation.direct(alice, carol)
        let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)

        let message = chatMessage(in: conv, from: carol, body: "again?")
        try await stack.producer.send(inbound(message), topic: topics.inbound, key: conv)
        try await stack.producer.send(inbound(message), topic: topics.inbound, key: conv)
        let entries = try await inbox.waitForEntries(of: [message.msg], count: 4)

        for user in [alice, carol] {
            #expect(entries.filter { $0.user == user }.map(\.entry) == Array(repeating: .message(message.stored(at: 1)), count: 2))
        }
        #expect(try await conversationLog(stack.redis, conv).map(\.cseq) == [1])
        await inbox.stop()
    }

    @Test("the router run twice on the same records emits the same entries again; metrics count routed, duplicate and rejected messages")
    func routerTwice() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let metrics = TestMetrics()
        let router = MessageRouter(topics: topics, redis: stack.redis, producer: stack.producer.producer, dedupTTL: .seconds(60),
                                   retention: ConversationRetention(maxEntries: 100, age: .seconds(3600)),
                                   groupLimits: GroupLimits(maxMembers: 1000, maxGroupsPerUser: 500),
                                   inboxPartitions: testTopicPartitions, logger: serviceLogger("router"), metrics: metrics)
        let (dave, erin) = usersOnTwoPartitions("dave", "erin")
        let conv = Conversation.direct(dave, erin)
        let messages = [chatMessage(in: conv, from: dave, body: "one"), chatMessage(in: conv, from: erin, body: "two"),
                        chatMessage(in: "g:" + uniqueID("nope"), from: dave, body: "to nobody")]
        let records = messages.enumerated().map { index, message in
            KafkaRecord(topic: topics.inbound, partition: 0, offset: Int64(index), key: Array(message.conv.utf8),
                        value: Envelope.encode(inbound(message)), timestamp: nil)
        }
        let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)

        try await router.routeInbound(records)
        let once = try await inbox.waitForEntries(of: messages.map(\.msg), count: 5)
        try await router.routeInbound(records)
        let twice = try await inbox.waitForEntries(of: messages.map(\.msg), count: 10)

        #expect(Array(twice.prefix(5)).map(\.entry) == once.map(\.entry))
        for (user, count) in [(dave, 3), (erin, 2)] {
            let mine = twice.filter { $0.user == user }
            #expect(mine.count == 2 * count)
            #expect(Array(mine.prefix(count)).map(\.entry) == Array(mine.suffix(count)).map(\.entry), "the second run emits what the first did")
            #expect(mine.allSatisfy { $0.partition == StreamPartition.of(user, count: testTopicPartitions) })
        }
        #expect(try await conversationLog(stack.redis, conv).map(\.message) == [messages[0].stored(at: 1), messages[1].stored(at: 2)])
        #expect(try metrics.expectCounter("parley_messages_routed_total").totalValue == 2)
        #expect(try metrics.expectCounter("parley_messages_duplicate_total").totalValue == 2)
        #expect(try metrics.expectCounter("parley_messages_rejected_total", [("code", "not_member")]).totalValue == 2)
        await inbox.stop()
    }

    @Test("a message to a group that does not exist, or in a dm that does not name the sender, gets one rejected entry for the sender and nothing else")
    func notMember() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), bob = uniqueID("bob"), mallory = uniqueID("mallory")
        let group = "g:" + uniqueID("nope"), dm = Conversation.direct(alice, bob)
        let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)

        let toGroup = chatMessage(in: group, from: alice, body: "anyone?")
        var intruding = chatMessage(in: dm, from: mallory, body: "let me in")
        intruding.to = bob
        let fine = chatMessage(in: dm, from: alice, body: "just us")
        // A conversation's records are handled in order, and a user's entries are on one
        // partition in order: once alice and bob have `fine`, nothing of `intruding` can follow
        // for them; once alice has the group's second refusal, nothing more of the first can.
        try await stack.producer.send(batch: [inbound(toGroup), inbound(chatMessage(in: group, from: alice, body: "later"))],
                                      topic: topics.inbound) { $0.conv }
        try await stack.producer.send(batch: [inbound(intruding), inbound(fine)], topic: topics.inbound) { $0.conv }
        let intruder = intruding.msg
        _ = try await inbox.waitForEntries("fine for both, the intruder's refusal, the group's two refusals") { entries in
            let done = entries.filter { $0.entry.msg == fine.msg }.count == 2 && entries.contains { $0.entry.msg == intruder }
                && entries.filter { $0.entry.conv == group }.count >= 2
            return done ? true : nil
        }

        for refused in [toGroup, intruding] {
            let entries = inbox.inboxEntries.filter { $0.entry.msg == refused.msg }
            #expect(entries.map(\.user) == [refused.from])
            #expect(entries.map(\.entry) == [StreamEntry(kind: .rejected, msg: refused.msg, conv: refused.conv, cseq: 0, id: refused.id,
                                                         code: .notMember)])
            #expect(entries.allSatisfy { $0.partition == StreamPartition.of(refused.from, count: testTopicPartitions) })
        }
        #expect(try await conversationLog(stack.redis, dm).map(\.message) == [fine.stored(at: 1)])
        let groupKeys = RedisKeys.ConversationKeys(group)
        #expect(try await !stack.redis.send(.exists(groupKeys.meta)), "a refusal stores nothing")
        #expect(try await !stack.redis.send(.exists(groupKeys.log)))
        await inbox.stop()
    }

    @Test("malformed chat.inbound records are skipped and the batch goes on")
    func malformedInbound() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), eve = uniqueID("eve")
        let conv = Conversation.direct(alice, eve)
        let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)

        var badConv = chatMessage(in: conv, from: alice, body: "nowhere")
        badConv.conv = "dm:\(eve):\(alice)"  // not in canonical order
        var badSender = chatMessage(in: conv, from: alice, body: "from nobody")
        badSender.from = "not an id"
        let good = chatMessage(in: conv, from: alice, body: "after the garbage")
        let values: [[UInt8]] = [
            Array("not json at all".utf8), Array(#"{"v":2,"message":{"msg":42}}"#.utf8), [],
            Envelope.encode(inbound(badConv)), Envelope.encode(inbound(badSender)), Envelope.encode(inbound(good)),
        ]
        _ = try await stack.producer.producer.send(batch: values.map {
            KafkaOutgoingRecord(topic: topics.inbound, key: Array(conv.utf8), value: $0)
        })
        _ = try await inbox.waitForEntries(of: [good.msg], count: 2)

        // Still running: a later message is routed too, and the process reports healthy.
        let later = chatMessage(in: conv, from: eve, body: "still there?")
        try await stack.producer.send(inbound(later), topic: topics.inbound, key: conv)
        _ = try await inbox.waitForEntries(of: [later.msg], count: 2)
        #expect(inbox.inboxEntries.filter { $0.user == alice }.map(\.entry) == [.message(good.stored(at: 1)), .message(later.stored(at: 2))])
        #expect(try await httpRequest(port: stack.service.port, .get, "/healthz").status == .ok)
        await inbox.stop()
    }

    @Test("a restarted relay in the same group does not route again what the first one routed")
    func committedOffsets() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let prefix = TestEnvironment.uniquePrefix("relay-restart")
        let topics = Topics(prefix: prefix)
        let alice = uniqueID("alice"), gina = uniqueID("gina")
        let conv = Conversation.direct(alice, gina)

        let first = (0..<3).map { chatMessage(in: conv, from: alice, body: "m\($0)") }
        try await withService("relay-1", build: { logger, onServerRunning in
            let configuration = try loadConfiguration(RelayConfiguration.self, serviceArguments(prefix: prefix))
            return try await buildRelay(configuration, logger: logger, onServerRunning: onServerRunning)
        }) { _ in
            let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)
            for message in first { try await stack.producer.send(inbound(message), topic: topics.inbound, key: conv) }
            _ = try await inbox.waitForEntries(of: first.map(\.msg), count: 6)
            await inbox.stop()
        }

        let last = chatMessage(in: conv, from: gina, body: "after the restart")
        let second = try await startRelay(prefix: prefix)
        let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)
        try await stack.producer.send(inbound(last), topic: topics.inbound, key: conv)
        _ = try await inbox.waitForEntries(of: [last.msg], count: 2)
        // A re-routed earlier message would appear twice.
        let entries = inbox.inboxEntries.filter { $0.user == gina }.map(\.entry)
        #expect(entries == (first + [last]).enumerated().map { .message($1.stored(at: UInt64($0 + 1))) })
        await inbox.stop()
        try await second.stop()
    }
}
