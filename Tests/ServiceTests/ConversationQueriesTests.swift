import Offline
import ParleyBackend
import ParleyProtocol
import ParleyRedis
import ParleyTestSupport
import Testing

/// offline-svc's `history` and `conversations` queries against the shared test redis-server. The
/// tests write the conversation logs and the users' `{user}` keys in the contract's format
/// (v2.md), as relay-svc and offline-svc's append script do.
@Suite("conversation queries")
struct ConversationQueriesTests {
    // MARK: - history

    @Test("history of 250 messages in pages of 100: 100, 100, 50, newest page first, each oldest first")
    func historyPages() async throws {
        try await withQueries { redis, queries in
            let alice = uniqueID("alice"), bob = uniqueID("bob")
            let conv = Conversation.direct(alice, bob)
            let log = try await writeLog(redis, conv, count: 250) { $0 % 3 == 0 ? alice : bob }

            var pages: [HistoryPage] = []
            var before: UInt64?
            repeat {
                pages.append(try await history(queries, user: alice, conv: conv, before: before, limit: 100))
                before = pages.last?.messages.first?.cseq
            } while pages.last?.more == true && pages.count < 5

            #expect(pages.map { $0.messages.compactMap(\.cseq) } == [Array(151...250), Array(51...150), Array(1...50)])
            #expect(pages.map(\.more) == [true, true, false])
            #expect(pages.allSatisfy { $0.conv == conv })
            let seen = pages.reversed().flatMap(\.messages)
            #expect(seen.map(\.body) == log.map(\.body))
            #expect(seen.map(\.msg) == log.map(\.msg))
            // The client id only on the asker's own messages.
            #expect(seen.allSatisfy { $0.from == alice ? $0.id == log[Int($0.cseq! - 1)].id : $0.id == nil })
            let bobsView = try await history(queries, user: bob, conv: conv, limit: 30)
            #expect(bobsView.messages.allSatisfy { $0.from == bob ? $0.id != nil : $0.id == nil })
            #expect(bobsView.messages.contains { $0.id != nil } && bobsView.messages.contains { $0.id == nil })
        }
    }

    @Test("history: default limit, before at and beyond the ends, a page ending exactly at the first message")
    func historyEdges() async throws {
        try await withQueries { redis, queries in
            let alice = uniqueID("alice"), bob = uniqueID("bob")
            let conv = Conversation.direct(alice, bob)
            let empty = try await history(queries, user: alice, conv: conv)
            #expect(empty == HistoryPage(conv: conv, messages: [], more: false), "a conversation without messages")

            try await writeLog(redis, conv, count: 120) { _ in bob }
            let byDefault = try await history(queries, user: alice, conv: conv)
            #expect(byDefault.messages.compactMap(\.cseq) == Array(71...120) && byDefault.more, "limit defaults to 50")
            let one = try await history(queries, user: alice, conv: conv, limit: 1)
            #expect(one.messages.compactMap(\.cseq) == [120] && one.more)
            let beyond = try await history(queries, user: alice, conv: conv, before: 1000, limit: 5)
            #expect(beyond.messages.compactMap(\.cseq) == Array(116...120) && beyond.more, "before past the end: the newest")
            let exact = try await history(queries, user: alice, conv: conv, before: 101, limit: 100)
            #expect(exact.messages.compactMap(\.cseq) == Array(1...100) && !exact.more, "exactly the rest: no more")
            let oneShort = try await history(queries, user: alice, conv: conv, before: 102, limit: 100)
            #expect(oneShort.messages.compactMap(\.cseq) == Array(2...101) && oneShort.more)
            for before in [UInt64(0), 1] {
                let nothing = try await history(queries, user: alice, conv: conv, before: before, limit: 10)
                #expect(nothing == HistoryPage(conv: conv, messages: [], more: false), "before \(before)")
            }

            // Retention trimmed cseq 1…40 away: the history ends at 41.
            try await redis.send(.raw(["XTRIM", RedisArgument(logKey(conv)), "MINID", "41-0"], keys: [logKey(conv)]))
            let trimmed = try await history(queries, user: alice, conv: conv, before: 61, limit: 50)
            #expect(trimmed.messages.compactMap(\.cseq) == Array(41...60) && !trimmed.more)
        }
    }

    @Test("history pages stop before 256 KB of messages and say more; the next pages continue without a gap")
    func historyPagesAreBounded() async throws {
        try await withQueries { redis, queries in
            let alice = uniqueID("alice"), bob = uniqueID("bob")
            let conv = Conversation.direct(alice, bob)
            let body = String(repeating: "\u{1}", count: 4000)  // 6 bytes each in JSON
            try await writeLog(redis, conv, count: 100, body: { _ in body }) { _ in bob }

            let first = try await history(queries, user: alice, conv: conv, limit: 100)
            #expect(!first.messages.isEmpty && first.messages.count < 100 && first.more)
            #expect(first.messages.last?.cseq == 100)
            #expect(first.messages.reduce(0) { $0 + Envelope.encode($1).count } <= 256 * 1024)
            var cseqs = first.messages.compactMap(\.cseq)
            var page = first
            while page.more, cseqs.count < 200 {
                page = try await history(queries, user: alice, conv: conv, before: cseqs.first, limit: 100)
                cseqs = page.messages.compactMap(\.cseq) + cseqs
            }
            #expect(cseqs == Array(1...100))
            #expect(page.messages.allSatisfy { $0.body == body })
        }
    }

    @Test("history refuses non-members (of a dm, of a group that does not exist), malformed conversations, limits and before")
    func historyRefusals() async throws {
        try await withQueries { redis, queries in
            let alice = uniqueID("alice"), bob = uniqueID("bob"), eve = uniqueID("eve")
            let conv = Conversation.direct(alice, bob)
            try await writeLog(redis, conv, count: 3) { _ in bob }

            for (user, conv) in [(eve, conv), (alice, "g:\(uniqueID("team"))")] {
                let answer = try await queries.answer(historyQuery(user: user, conv: conv))
                #expect(answer.error?.code == .notMember, "\(user) in \(conv)")
                #expect(answer.history == nil && answer.sessions == ["s-\(user)"] && answer.user == user)
            }
            let malformed: [String?] = [nil, "", "x", "dm:\(bob):\(alice)", "dm:\(alice)", "dm:\(alice):\(bob):x", "g:", "g:a b"]
            for conv in malformed {
                let answer = try await queries.answer(historyQuery(user: alice, conv: conv))
                #expect(answer.error?.code == .badRequest, "\(String(describing: conv))")
            }
            for limit in [0, -1, 101, Int.max] {
                let answer = try await queries.answer(historyQuery(user: alice, conv: conv, limit: limit))
                #expect(answer.error?.code == .badRequest && answer.history == nil, "limit \(limit)")
            }
            let tooLate = try await queries.answer(historyQuery(user: alice, conv: conv, before: ProtocolLimits.maxSequence + 1))
            #expect(tooLate.error?.code == .badRequest)
            let latest = try await queries.answer(historyQuery(user: alice, conv: conv, before: ProtocolLimits.maxSequence, limit: 100))
            #expect(latest.history?.messages.count == 3)

            let sync = QueryEnvelope(kind: .sync, user: alice, device: "d", session: "s", edge: "e")
            #expect(try await queries.answer(sync).error?.code == .badRequest, "not a conversation query")
        }
    }

    // MARK: - conversations

    @Test("conversations: newest activity first, last message from the log (nil once trimmed), read and unread")
    func conversationSummaries() async throws {
        try await withQueries { redis, queries in
            let alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol"), dave = uniqueID("dave")
            let withBob = Conversation.direct(alice, bob), withCarol = Conversation.direct(alice, carol)
            let withDave = Conversation.direct(alice, dave), notes = Conversation.direct(alice, alice)
            let bobLog = try await writeLog(redis, withBob, count: 7) { $0 == 7 ? bob : alice }
            let carolLog = try await writeLog(redis, withCarol, count: 4) { $0 == 4 ? alice : carol }
            try await writeLog(redis, withDave, count: 5) { _ in dave }
            try await redis.send(.raw(["XTRIM", RedisArgument(logKey(withDave)), "MINID", "6-0"], keys: [logKey(withDave)]))
            // The stream's view (seqs 10…13): bob's conv last active, then notes (a rejected entry
            // only), carol, dave. Alice read bob's conv to 5, carol's to 4; dave's never.
            try await writeUser(redis, alice, [(withDave, 10, "5 10", nil), (withCarol, 11, "4 9", "4"), (notes, 12, nil, nil),
                                               (withBob, 13, "7 13", "5")])

            let page = try #require(try await queries.answer(conversationsQuery(user: alice)).conversations)
            #expect(page.next == nil)
            #expect(page.items.map(\.conv) == [withBob, notes, withCarol, withDave])
            let byConv = Dictionary(uniqueKeysWithValues: page.items.map { ($0.conv, $0) })

            var bobLast = bobLog[6]
            bobLast.id = nil  // bob's message: alice does not see his client id
            #expect(byConv[withBob] == ConversationSummary(conv: withBob, members: sorted(alice, bob), last: bobLast, cseq: 7, read: 5, unread: 2))
            #expect(byConv[withCarol] == ConversationSummary(conv: withCarol, members: sorted(alice, carol), last: carolLog[3],
                                                             cseq: 4, read: 4, unread: 0), "alice's own last message, with its id")
            #expect(byConv[withDave] == ConversationSummary(conv: withDave, members: sorted(alice, dave), last: nil, cseq: 5, read: 0, unread: 5),
                    "the last body was trimmed from the log")
            #expect(byConv[notes] == ConversationSummary(conv: notes, members: [alice], last: nil, cseq: 0, read: 0, unread: 0))

            // A read cursor above the last cseq (a stream trimmed behind it) never counts negative.
            try await redis.send(.hset(RedisKeys.StreamKeys(alice).read, [withBob: "9"]))
            let after = try #require(try await queries.answer(conversationsQuery(user: alice, limit: 1)).conversations)
            #expect(after.items.map(\.unread) == [0] && after.items.first?.read == 9)
            #expect(after.next != nil)

            let nobody = try await queries.answer(conversationsQuery(user: uniqueID("nobody")))
            #expect(nobody.conversations == ConversationsPage(items: [], next: nil))
            #expect(nobody.sessions?.count == 1)
        }
    }

    @Test("paging 120 conversations while others become active: nothing listed twice, only the overtaken ones missed")
    func conversationPaging() async throws {
        try await withQueries { redis, queries in
            let alice = uniqueID("alice")
            let peers = (1...120).map { "p\($0)-\(alice)" }
            let convs = peers.map { Conversation.direct(alice, $0) }
            // convs[i] was last active at seq i+1.
            try await writeUser(redis, alice, convs.enumerated().map { ($1, UInt64($0 + 1), nil, nil) })

            let first = try await conversationsPage(queries, alice, limit: 50, next: nil)
            #expect(first.items.map(\.conv) == Array(convs[70...].reversed()))
            // New activity between pages: a listed conversation, a not yet listed one, a new one.
            let newcomer = Conversation.direct(alice, "new-\(alice)")
            try await writeUser(redis, alice, [(convs[99], 121, nil, nil), (convs[29], 122, nil, nil), (newcomer, 123, nil, nil)])

            var pages = [first]
            while let next = pages.last?.next, pages.count < 10 {
                pages.append(try await conversationsPage(queries, alice, limit: 50, next: next))
            }
            #expect(pages.map(\.items.count) == [50, 50, 19])
            let listed = pages.flatMap(\.items).map(\.conv)
            #expect(Set(listed).count == listed.count, "no conversation listed twice")
            #expect(Set(listed) == Set(convs).subtracting([convs[29]]),
                    "everything but the one that moved above the cursor before it was reached")
            #expect(listed == convs.reversed().filter { $0 != convs[29] }, "in the order of the snapshot")

            let again = try await conversationsPage(queries, alice, limit: 3, next: nil)
            #expect(again.items.map(\.conv) == [newcomer, convs[29], convs[99]], "a new walk sees the new order")
        }
    }

    @Test("conversations with equal scores page by conv without repeats or gaps")
    func conversationPagingWithTies() async throws {
        try await withQueries { redis, queries in
            let alice = uniqueID("alice")
            let convs = (1...5).map { Conversation.direct(alice, "t\($0)-\(alice)") }
            try await writeUser(redis, alice, convs.map { ($0, 7, nil, nil) } + [(Conversation.direct(alice, "old-\(alice)"), 3, nil, nil)])
            var pages = [try await conversationsPage(queries, alice, limit: 2, next: nil)]
            while let next = pages.last?.next, pages.count < 10 {
                pages.append(try await conversationsPage(queries, alice, limit: 2, next: next))
            }
            let byteOrder = convs.sorted { $1.utf8.lexicographicallyPrecedes($0.utf8) }
            #expect(pages.flatMap(\.items).map(\.conv) == byteOrder + [Conversation.direct(alice, "old-\(alice)")])
            #expect(pages.map(\.items.count) == [2, 2, 2])
        }
    }

    @Test("conversation pages stop before 256 KB of last messages; next continues after the last item listed")
    func conversationPagesAreBounded() async throws {
        try await withQueries { redis, queries in
            let alice = uniqueID("alice")
            let body = String(repeating: "\u{1}", count: 4000)  // 6 bytes each in JSON
            let convs = (1...30).map { Conversation.direct(alice, "b\($0)-\(alice)") }
            for conv in convs { try await writeLog(redis, conv, count: 1, body: { _ in body }) { _ in alice } }
            try await writeUser(redis, alice, convs.enumerated().map { ($1, UInt64($0 + 1), "1 \($0 + 1)", "1") })

            var pages = [try await conversationsPage(queries, alice, limit: 100, next: nil)]
            while let next = pages.last?.next, pages.count < 30 {
                pages.append(try await conversationsPage(queries, alice, limit: 100, next: next))
            }
            #expect(pages.count > 1 && pages.allSatisfy { !$0.items.isEmpty })
            #expect(pages.allSatisfy { $0.items.compactMap(\.last).reduce(0) { $0 + Envelope.encode($1).count } <= 256 * 1024 })
            #expect(pages.flatMap(\.items).map(\.conv) == convs.reversed())
            #expect(pages.flatMap(\.items).allSatisfy { $0.last?.body == body })
        }
    }

    @Test("conversations refuse bad limits and malformed next tokens")
    func conversationRefusals() async throws {
        try await withQueries { _, queries in
            let alice = uniqueID("alice")
            for limit in [0, -5, 101] {
                #expect(try await queries.answer(conversationsQuery(user: alice, limit: limit)).error?.code == .badRequest, "limit \(limit)")
            }
            let conv = Conversation.direct(alice, "bob")
            let malformed = ["", "12", ":\(conv)", "x:\(conv)", "-1:\(conv)", "+1:\(conv)", "1.5:\(conv)", "12:", "12:x",
                             "12:dm:b:a", "9007199254740992:\(conv)", "00000000000000001:\(conv)", " 1:\(conv)"]
            for next in malformed {
                let answer = try await queries.answer(conversationsQuery(user: alice, next: next))
                #expect(answer.error?.code == .badRequest && answer.conversations == nil, "next \(next)")
            }
            let fine = try await queries.answer(conversationsQuery(user: alice, next: "9007199254740991:\(conv)"))
            #expect(fine.conversations == ConversationsPage(items: [], next: nil))
        }
    }
}

// MARK: - Helpers

private func withQueries(_ body: (RedisClient, ConversationQueries) async throws -> Void) async throws {
    let redis = try testRedis()
    do {
        try await body(redis, ConversationQueries(redis: redis, logger: serviceLogger("queries")))
        await redis.close()
    } catch {
        await redis.close()
        throw error
    }
}

private func logKey(_ conv: String) -> String { RedisKeys.ConversationKeys(conv).log }

private func sorted(_ a: String, _ b: String) -> [String] { a.utf8.lexicographicallyPrecedes(b.utf8) ? [a, b] : [b, a] }

/// Writes messages 1…count of a dm to its log as relay-svc does (id `<cseq>-0`, field `m`) and
/// returns them; `from(cseq)` picks each sender.
@discardableResult
private func writeLog(_ redis: RedisClient, _ conv: String, count: Int, body: (UInt64) -> String = { "message \($0)" },
                      from: (UInt64) -> String) async throws -> [ChatMessage] {
    let (a, b) = try #require(Conversation.directMembers(conv))
    let messages = (1...UInt64(count)).map { cseq in
        let sender = from(cseq)
        return ChatMessage(msg: MessageID.make(), from: sender, to: sender == a ? b : a, conv: conv, cseq: cseq, body: body(cseq),
                           ts: UnixTime.nowMilliseconds, id: "c\(cseq)")
    }
    var pipeline = RedisPipeline()
    for message in messages {
        pipeline.add(.raw(["XADD", RedisArgument(logKey(conv)), "\(message.cseq!)-0", "m", RedisArgument(Envelope.encode(message))],
                          keys: [logKey(conv)]))
    }
    _ = try await redis.send(pipeline)
    return messages
}

/// Writes a user's conversation list as offline-svc's append script does: per conversation its
/// score in `convs` (the seq of its latest entry), its `last` (`<cseq> <seq>`) and `read` fields.
private func writeUser(_ redis: RedisClient, _ user: String, _ items: [(conv: String, seq: UInt64, last: String?, read: String?)]) async throws {
    let keys = RedisKeys.StreamKeys(user)
    var pipeline = RedisPipeline()
    pipeline.add(.zadd(keys.conversations, items.map { RedisScoredMember(member: $0.conv, score: Double($0.seq)) }))
    for item in items {
        if let last = item.last { pipeline.add(.hset(keys.last, [item.conv: last])) }
        if let read = item.read { pipeline.add(.hset(keys.read, [item.conv: read])) }
    }
    _ = try await redis.send(pipeline)
}

private func historyQuery(user: String, conv: String?, before: UInt64? = nil, limit: Int? = nil) -> QueryEnvelope {
    QueryEnvelope(kind: .history, user: user, device: "d1", session: "s-\(user)", edge: "e1", conv: conv, before: before, limit: limit)
}

private func conversationsQuery(user: String, limit: Int? = nil, next: String? = nil) -> QueryEnvelope {
    QueryEnvelope(kind: .conversations, user: user, device: "d1", session: "s-\(user)", edge: "e1", limit: limit, next: next)
}

/// The history page `user` gets (failing the test on an error answer).
private func history(_ queries: ConversationQueries, user: String, conv: String, before: UInt64? = nil,
                     limit: Int? = nil) async throws -> HistoryPage {
    let answer = try await queries.answer(historyQuery(user: user, conv: conv, before: before, limit: limit))
    #expect(answer.user == user && answer.sessions == ["s-\(user)"] && answer.error == nil)
    return try #require(answer.history, "\(String(describing: answer.error))")
}

private func conversationsPage(_ queries: ConversationQueries, _ user: String, limit: Int, next: String?) async throws -> ConversationsPage {
    let answer = try await queries.answer(conversationsQuery(user: user, limit: limit, next: next))
    return try #require(answer.conversations, "\(String(describing: answer.error))")
}
