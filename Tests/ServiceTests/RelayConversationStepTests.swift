import ParleyBackend
import ParleyProtocol
import ParleyRedis
import ParleyTestSupport
@testable import Relay
import Testing

/// relay-svc's conversation step (the Lua script) against the shared redis-server, with the
/// clock and the retention chosen by the test.
@Suite("relay-svc conversation step")
struct RelayConversationStepTests {
    static let year = ConversationRetention(maxEntries: 1000, age: .seconds(365 * 24 * 3600))

    /// Runs one step for `messages` (all of one conversation).
    func step(_ redis: RedisClient, _ messages: [ChatMessage], now: UInt64 = UnixTime.nowMilliseconds, epoch: String = "e1",
              retention: ConversationRetention = year) async throws -> [ConversationOutcome] {
        try await redis.send(ConversationStep.call(conv: messages[0].conv, operations: messages.map { .message($0) }, epoch: epoch, now: now,
                                                   dedupTTL: .seconds(60), retention: retention, maxGroupMembers: 1000)).outcomes
    }

    func dm(_ count: Int, body: String = "m") -> (conv: String, messages: [ChatMessage]) {
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let conv = Conversation.direct(alice, bob)
        return (conv, (0..<count).map { chatMessage(in: conv, from: $0.isMultiple(of: 2) ? alice : bob, body: "\(body)\($0)") })
    }

    @Test("the message JSON split around cseq is the message's JSON with any cseq, even when its body spells the key")
    func jsonAroundCseq() {
        let message = ChatMessage(msg: MessageID.make(), from: "alice", to: "bob", conv: "dm:alice:bob",
                                  body: #"x","cseq":0,"y \"cseq\":0 "#, ts: 7, id: "c1")
        let (head, tail) = ConversationStep.jsonAroundCseq(message)
        for cseq: UInt64 in [1, 42, 9_007_199_254_740_991] {
            #expect(head + Array(String(cseq).utf8) + tail == Envelope.encode(message.stored(at: cseq)))
        }
    }

    @Test("one step stores its messages in order at the next cseqs; a (sender, client id) seen before, in this step or an earlier one, gets the first cseq, msg and logged message")
    func storeAndDeduplicate() async throws {
        try await withRedis { redis in
            let (conv, messages) = dm(3)
            var retry = chatMessage(in: conv, from: messages[0].from, body: "m0 again", id: messages[0].id)
            retry.ts += 1
            #expect(try await step(redis, [messages[0], messages[1], retry]) == [
                .stored(cseq: 1), .stored(cseq: 2),
                .duplicate(cseq: 1, msg: messages[0].msg, logged: Envelope.encode(messages[0].stored(at: 1))),
            ])
            #expect(try await step(redis, [messages[1], messages[2]]) == [
                .duplicate(cseq: 2, msg: messages[1].msg, logged: Envelope.encode(messages[1].stored(at: 2))), .stored(cseq: 3),
            ])
            #expect(try await conversationLog(redis, conv).map(\.message) == messages.enumerated().map { $1.stored(at: UInt64($0 + 1)) })
            let dedup = RedisKeys.ConversationKeys(conv).dedup(from: messages[0].from, clientID: messages[0].id ?? "")
            #expect(try await redis.send(.get(dedup)) == "1 \(messages[0].msg)")
            let ttl = try #require(try await redis.send(.ttl(dedup)))
            #expect(ttl > .zero && ttl <= .seconds(60), "the pair is forgotten after --dedup-ttl")
        }
    }

    @Test("a duplicate whose log entry is past retention still gets its first cseq and msg")
    func duplicateOfTrimmed() async throws {
        try await withRedis { redis in
            let (_, messages) = dm(3)
            let small = ConversationRetention(maxEntries: 1, age: Self.year.age)
            _ = try await step(redis, Array(messages.prefix(2)), retention: small)
            #expect(try await step(redis, [messages[0], messages[2]], retention: small) == [
                .duplicate(cseq: 1, msg: messages[0].msg, logged: nil), .stored(cseq: 3),
            ])
        }
    }

    @Test("the log is trimmed by count to the newest entries; cseqs go on")
    func trimByCount() async throws {
        try await withRedis { redis in
            let (conv, messages) = dm(6)
            let three = ConversationRetention(maxEntries: 3, age: Self.year.age)
            _ = try await step(redis, Array(messages[0..<2]), retention: three)
            #expect(try await conversationLog(redis, conv).map(\.cseq) == [1, 2])
            _ = try await step(redis, Array(messages[2..<5]), retention: three)
            #expect(try await conversationLog(redis, conv).map(\.cseq) == [3, 4, 5])
            #expect(try await step(redis, [messages[5]], retention: three) == [.stored(cseq: 6)])
            #expect(try await conversationLog(redis, conv).map(\.cseq) == [4, 5, 6])
            #expect(try await conversationMeta(redis, conv)["n"] == "6")
        }
    }

    @Test("the log is trimmed by age from its oldest entry, at most 64 entries per step, never the entries just stored")
    func trimByAge() async throws {
        try await withRedis { redis in
            let (conv, messages) = dm(73)
            let second = ConversationRetention(maxEntries: 1000, age: .seconds(1))
            let start: UInt64 = 1_800_000_000_000
            _ = try await step(redis, Array(messages[0..<70]), now: start, retention: second)
            #expect(try await conversationLog(redis, conv).count == 70)
            // Half a second later nothing is old yet.
            _ = try await step(redis, [messages[70]], now: start + 500, retention: second)
            #expect(try await conversationLog(redis, conv).count == 71)

            // 1.2 s after the start the first 70 are old: one step trims 64 of them, the next the rest.
            _ = try await step(redis, [messages[71]], now: start + 1200, retention: second)
            #expect(try await conversationLog(redis, conv).map(\.cseq) == Array(65...72))
            #expect(try await step(redis, [messages[72]], now: start + 1200, retention: second) == [.stored(cseq: 73)])
            let log = try await conversationLog(redis, conv)
            #expect(log.map(\.cseq) == [71, 72, 73])
            #expect(log.map(\.storedAt) == [start + 500, start + 1200, start + 1200])
        }
    }

    @Test("a conversation's first step makes its epoch; a lost meta goes on after the log's last cseq, with a new epoch")
    func lostMeta() async throws {
        try await withRedis { redis in
            let (conv, messages) = dm(3)
            _ = try await step(redis, Array(messages.prefix(2)), epoch: "first")
            #expect(try await conversationMeta(redis, conv) == ["n": "2", "e": "first"])
            _ = try await step(redis, Array(messages.prefix(2)), epoch: "unused")
            #expect(try await conversationMeta(redis, conv) == ["n": "2", "e": "first"], "duplicates only: the meta stays")

            _ = try await redis.send(.del([RedisKeys.ConversationKeys(conv).meta]))
            #expect(try await step(redis, [messages[2]], epoch: "second") == [.stored(cseq: 3)])
            #expect(try await conversationMeta(redis, conv) == ["n": "3", "e": "second"])
        }
    }
}
