import Offline
import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import Testing

/// Starts offline-svc on `prefix` (plus `extra` flags).
func startOffline(prefix: String, extra: [String] = []) async throws -> RunningService {
    let configuration = try loadConfiguration(OfflineConfiguration.self, serviceArguments(prefix: prefix) + extra)
    return try await RunningService.start("offline") { logger, onServerRunning in
        try await buildOffline(configuration, logger: logger, onServerRunning: onServerRunning)
    }
}

enum OfflineShared {
    // Spelled out instead of @TaskLocal: the macro's `$stack` is not visible to the @Suite attribute.
    static let stack = TaskLocal<ServiceStack?>(wrappedValue: nil)
}

private func appendToInbox(_ producer: TestProducer, _ topics: Topics, _ messages: [ChatMessage], delivered: [String] = []) async throws {
    try await producer.send(batch: messages.map { InboxEnvelope(message: $0, delivered: delivered) }, topic: topics.inbox) { $0.message.to ?? "" }
}

private func sessionOnline(_ producer: TestProducer, _ topics: Topics, user: String, session: String, edge: String) async throws {
    try await producer.send(PresenceChange(kind: .sessionOnline, user: user, session: session, edge: edge, status: .online, transition: true),
                            topic: topics.presenceChanges, key: user)
}

/// offline-svc alone: the test plays relay-svc (chat.inbox), the edges (chat.acks) and
/// presence-svc (presence.changes and presence:{user}), and reads Redis and the deliver topics.
@Suite("offline-svc", SharedStack(slot: OfflineShared.stack, start: {
    try await ServiceStack.start("offline") { try await startOffline(prefix: $0, extra: ["--replay-batch", "2"]) }
}))
struct OfflineServiceTests {
    @Test("inbox records are kept in msg-id order whatever the arrival order; an ack removes them")
    func appendAndAck() async throws {
        let stack = try sharedStack(OfflineShared.stack)
        let user = uniqueID("olga"), sender = uniqueID("sam")
        let messages = (0..<5).map { chatMessage(from: sender, to: user, body: "m\($0)") }
        let ids = messages.map(\.msg)

        try await appendToInbox(stack.producer, stack.topics, [messages[3], messages[1]])
        try await waitUntil("the first batch appended") { try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 2 }
        try await appendToInbox(stack.producer, stack.topics, [messages[4], messages[0], messages[2]])
        try await waitUntil("all appended") { try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 5 }
        #expect(try await stack.redis.send(.zrange(RedisKeys.inbox(user), 0, -1)) == ids)
        let stored = try #require(try await stack.redis.send(.hgetBytes(RedisKeys.inboxMessages(user), ids[2])))
        #expect(try Envelope.decode(ChatMessage.self, from: stored) == messages[2])
        let ttl = try #require(try await stack.redis.send(.ttl(RedisKeys.inbox(user))))
        #expect(ttl > .zero, "the inbox has the retention as its expiry")

        try await stack.producer.send(AckEnvelope(user: user, acks: [AckedMessage(msg: ids[1], from: sender, id: nil),
                                                                     AckedMessage(msg: ids[3], from: nil, id: nil)]),
                                      topic: stack.topics.acks, key: user)
        try await waitUntil("the acked messages removed") { try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 3 }
        #expect(try await stack.redis.send(.zrange(RedisKeys.inbox(user), 0, -1)) == [ids[0], ids[2], ids[4]])
        #expect(try await stack.redis.send(.hlen(RedisKeys.inboxMessages(user))) == 3)
        #expect(try await stack.redis.send(.hget(RedisKeys.inboxMessages(user), ids[1])) == nil)
        _ = try await stack.redis.send(.del([RedisKeys.inbox(user), RedisKeys.inboxMessages(user)]))
    }

    @Test("session_online replays the whole pending inbox, in msg-id order and replay-batch sized records, to that session")
    func replay() async throws {
        let stack = try sharedStack(OfflineShared.stack)
        let user = uniqueID("rita"), sender = uniqueID("sam"), edge = uniqueID("edge")
        try await createDeliverTopics(stack.topics, edges: [edge])
        let deliver = try await TopicReader.start(stack.topics.deliver(edge: edge))
        let messages = (0..<5).map { chatMessage(from: sender, to: user, body: "m\($0)") }
        try await appendToInbox(stack.producer, stack.topics, [messages[2], messages[0], messages[4]])
        try await appendToInbox(stack.producer, stack.topics, [messages[1], messages[3]])
        try await waitUntil("all appended") { try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 5 }

        // An offline change replays nothing; the online change after it replays everything.
        try await stack.producer.send(PresenceChange(kind: .sessionOffline, user: user, session: "r0", edge: edge, status: .offline,
                                                     transition: true), topic: stack.topics.presenceChanges, key: user)
        try await sessionOnline(stack.producer, stack.topics, user: user, session: "r1", edge: edge)
        let records = try await deliver.waitFor(DeliverEnvelope.self, "the replay") { records -> [DeliverEnvelope]? in
            let mine = records.filter { $0.value.user == user }.map(\.value)
            return mine.flatMap(\.messages).count >= 5 ? mine : nil
        }
        #expect(records.map(\.messages.count) == [2, 2, 1])
        #expect(records.flatMap(\.messages) == messages)
        #expect(records.allSatisfy { $0.sessions == ["r1"] })
        #expect(deliver.decoded(DeliverEnvelope.self).allSatisfy { $0.key == user })
        // A replay does not remove anything: only acks do.
        #expect(try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 5)

        // A second session gets its own full replay.
        try await sessionOnline(stack.producer, stack.topics, user: user, session: "r2", edge: edge)
        let second = try await deliver.waitFor(DeliverEnvelope.self, "the second replay") { records -> [DeliverEnvelope]? in
            let mine = records.filter { $0.value.sessions == ["r2"] }.map(\.value)
            return mine.flatMap(\.messages).count >= 5 ? mine : nil
        }
        #expect(second.flatMap(\.messages) == messages)
        #expect(deliver.decoded(DeliverEnvelope.self).count == 6, "the offline change replayed nothing")
        _ = try await stack.redis.send(.del([RedisKeys.inbox(user), RedisKeys.inboxMessages(user)]))
        await deliver.stop()
    }

    @Test("a message is delivered to the recipient's online sessions that relay-svc did not reach")
    func missedSessions() async throws {
        let stack = try sharedStack(OfflineShared.stack)
        let user = uniqueID("wanda"), sender = uniqueID("sam"), edge1 = uniqueID("edge"), edge2 = uniqueID("edge")
        try await createDeliverTopics(stack.topics, edges: [edge1, edge2])
        let deliver1 = try await TopicReader.start(stack.topics.deliver(edge: edge1))
        let deliver2 = try await TopicReader.start(stack.topics.deliver(edge: edge2))
        _ = try await stack.redis.send(.hset(RedisKeys.presence(user), ["w1": edge1, "w2": edge1, "w3": edge2]))

        let partly = chatMessage(from: sender, to: user, body: "relay reached w1 and w3")
        let fully = chatMessage(from: sender, to: user, body: "relay reached everyone")
        let none = chatMessage(from: sender, to: user, body: "relay reached nobody")
        try await appendToInbox(stack.producer, stack.topics, [partly], delivered: ["w1", "w3"])
        try await appendToInbox(stack.producer, stack.topics, [fully], delivered: ["w1", "w2", "w3"])
        try await appendToInbox(stack.producer, stack.topics, [none], delivered: [])

        let onEdge1 = try await deliver1.waitFor(DeliverEnvelope.self, "the deliveries on edge1") { records -> [DeliverEnvelope]? in
            let values = records.map(\.value)
            return values.filter { $0.messages.contains(none) }.count >= 2 ? values : nil
        }
        let missed = onEdge1.filter { $0.messages.contains(partly) }
        #expect(missed.map(\.sessions) == [["w2"]])
        #expect(!onEdge1.contains { $0.messages.contains(fully) })
        #expect(Set(onEdge1.filter { $0.messages.contains(none) }.compactMap(\.sessions)) == [["w1"], ["w2"]])
        #expect(onEdge1.allSatisfy { $0.user == user && $0.exceptSession == nil })
        let onEdge2 = try await deliver2.waitFor(DeliverEnvelope.self, "the delivery on edge2") { records -> [DeliverEnvelope]? in
            let values = records.map(\.value)
            return values.contains { $0.messages.contains(none) } ? values : nil
        }
        #expect(onEdge2.map(\.sessions) == [["w3"]])
        #expect(onEdge2.flatMap(\.messages) == [none])
        // Delivered or not, every message waits in the inbox for its ack.
        #expect(try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 3)
        _ = try await stack.redis.send(.del([RedisKeys.inbox(user), RedisKeys.inboxMessages(user), RedisKeys.presence(user)]))
        await deliver1.stop()
        await deliver2.stop()
    }

    @Test("malformed records on the three inputs are skipped; later records are handled")
    func malformed() async throws {
        let stack = try sharedStack(OfflineShared.stack)
        let user = uniqueID("mallory"), sender = uniqueID("sam")
        for topic in [stack.topics.inbox, stack.topics.acks, stack.topics.presenceChanges] {
            try await stack.producer.sendRaw(Array("}{".utf8), topic: topic, key: user)
        }
        let messages = (0..<2).map { chatMessage(from: sender, to: user, body: "m\($0)") }
        try await appendToInbox(stack.producer, stack.topics, messages)
        try await waitUntil("appended") { try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 2 }
        try await stack.producer.send(AckEnvelope(user: user, acks: [AckedMessage(msg: messages[0].msg, from: sender, id: nil)]),
                                      topic: stack.topics.acks, key: user)
        try await waitUntil("acked") { try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 1 }
        _ = try await stack.redis.send(.del([RedisKeys.inbox(user), RedisKeys.inboxMessages(user)]))
    }

    @Test("the inbox bound drops the oldest messages")
    func inboxBound() async throws {
        let stack = try sharedStack(OfflineShared.stack)
        let prefix = TestEnvironment.uniquePrefix("offline-max")
        let topics = Topics(prefix: prefix)
        let user = uniqueID("xena"), sender = uniqueID("sam")
        let messages = (0..<5).map { chatMessage(from: sender, to: user, body: "m\($0)") }
        let ids = messages.map(\.msg)
        try await withService("offline-max", build: { logger, onServerRunning in
            let configuration = try loadConfiguration(OfflineConfiguration.self, serviceArguments(prefix: prefix) + ["--inbox-max", "3"])
            return try await buildOffline(configuration, logger: logger, onServerRunning: onServerRunning)
        }) { _ in
            try await appendToInbox(stack.producer, topics, [messages[1], messages[0]])
            try await waitUntil("the first two appended") { try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 2 }
            try await appendToInbox(stack.producer, topics, [messages[4], messages[2], messages[3]])
            try await waitUntil("the inbox trimmed to the newest three") {
                try await stack.redis.send(.zrange(RedisKeys.inbox(user), 0, -1)) == Array(ids.suffix(3))
            }
            try await waitUntil("the trimmed bodies removed") { try await stack.redis.send(.hlen(RedisKeys.inboxMessages(user))) == 3 }
            #expect(try await stack.redis.send(.hget(RedisKeys.inboxMessages(user), ids[0])) == nil)
        }
        _ = try await stack.redis.send(.del([RedisKeys.inbox(user), RedisKeys.inboxMessages(user)]))
    }

    @Test("a replay after the retention has passed drops the messages older than it")
    func retention() async throws {
        let stack = try sharedStack(OfflineShared.stack)
        let prefix = TestEnvironment.uniquePrefix("offline-ret")
        let topics = Topics(prefix: prefix)
        let user = uniqueID("yuri"), sender = uniqueID("sam"), edge = uniqueID("edge")
        // Retention is judged by the msg id's time. Two messages are two minutes old (their
        // retention of 30 s has passed), two are new; 30 s rather than 1 s so that the new ones
        // cannot age past it while the test runs on a slow machine.
        let now = UnixTime.nowMilliseconds
        let old = (0..<2).map { chatMessage(from: sender, to: user, body: "old \($0)", msg: messageID(unixMilliseconds: now - 120_000 + UInt64($0))) }
        let fresh = (0..<2).map { chatMessage(from: sender, to: user, body: "new \($0)") }
        try await createDeliverTopics(topics, edges: [edge])
        try await withService("offline-retention", build: { logger, onServerRunning in
            let configuration = try loadConfiguration(OfflineConfiguration.self, serviceArguments(prefix: prefix) + ["--inbox-retention", "30s"])
            return try await buildOffline(configuration, logger: logger, onServerRunning: onServerRunning)
        }) { _ in
            let deliver = try await TopicReader.start(topics.deliver(edge: edge))
            try await appendToInbox(stack.producer, topics, [fresh[1], old[0], fresh[0], old[1]])
            try await waitUntil("all appended") { try await stack.redis.send(.zcard(RedisKeys.inbox(user))) == 4 }
            let ttl = try #require(try await stack.redis.send(.ttl(RedisKeys.inbox(user))))
            #expect(ttl > .zero && ttl <= .seconds(30))

            try await sessionOnline(stack.producer, topics, user: user, session: "y1", edge: edge)
            let replayed = try await deliver.waitFor(DeliverEnvelope.self, "the replay") { records -> [ChatMessage]? in
                let messages = records.flatMap(\.value.messages)
                return messages.isEmpty ? nil : messages
            }
            #expect(replayed == fresh)
            #expect(try await stack.redis.send(.zrange(RedisKeys.inbox(user), 0, -1)) == fresh.map(\.msg))
            #expect(try await stack.redis.send(.hlen(RedisKeys.inboxMessages(user))) == 2)
            await deliver.stop()
        }
        _ = try await stack.redis.send(.del([RedisKeys.inbox(user), RedisKeys.inboxMessages(user)]))
    }
}
