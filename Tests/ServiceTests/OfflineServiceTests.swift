@testable import Offline
import ParleyBackend
import ParleyChat
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

/// What the test plays: relay-svc (chat.inbox), the edges (chat.queries, chat.acks) and presence-svc
/// (presence.changes) around one offline-svc.
struct OfflineInputs {
    let stack: ServiceStack

    /// Entries as relay-svc produces them: batched, on each user's StreamPartition (the test topics have 2).
    func inbox(_ entries: [InboxEntry]) async throws {
        _ = try await stack.producer.producer.send(batch: InboxRecords(topic: stack.topics.inbox, partitions: 2).records(entries))
    }

    func query(_ query: QueryEnvelope) async throws {
        try await stack.producer.send(query, topic: stack.topics.queries, key: query.user)
    }

    func move(_ move: CursorMove) async throws {
        try await stack.producer.send(move, topic: stack.topics.acks, key: move.user)
    }

    /// Subscribes `session` with a sync after 0 and waits for its subscription.
    func subscribe(_ user: String, session: String, edge: String, device: String = "phone") async throws {
        try await query(QueryEnvelope(kind: .sync, user: user, device: device, session: session, edge: edge, after: 0, subscribe: true))
        try await waitUntil("\(session) subscribed") {
            try await stack.redis.send(.hget(RedisKeys.StreamKeys(user).subscriptions, session)) != nil
        }
    }

    /// Waits until `user`'s stream head is `head`.
    func waitForHead(_ user: String, _ head: UInt64) async throws {
        try await waitUntil("\(user)'s head at \(head)") {
            try await stack.redis.send(.hget(RedisKeys.StreamKeys(user).meta, "h")) == "\(head)"
        }
    }

    /// Starts reading the deliver topics of new edges.
    func edges(_ count: Int) async throws -> [(id: String, reader: TopicReader)] {
        let ids = (0..<count).map { _ in uniqueID("edge") }
        try await createDeliverTopics(stack.topics, edges: ids)
        var edges: [(String, TopicReader)] = []
        for id in ids { edges.append((id, try await TopicReader.start(stack.topics.deliver(edge: id)))) }
        return edges
    }
}

/// The live entries (not sync pages) `reader` got for `session` of `user`.
func liveEntries(_ records: [(key: String, value: DeliverEnvelope)], user: String, session: String) -> [StreamEntry] {
    records.map(\.value).filter { $0.user == user && $0.page == nil && $0.sessions?.contains(session) == true }.flatMap(\.entries)
}

/// offline-svc alone against the broker and redis-server.
@Suite("offline-svc", SharedStack(slot: OfflineShared.stack, start: {
    try await ServiceStack.start("offline") { try await startOffline(prefix: $0) }
}))
struct OfflineServiceTests {
    @Test("a sync answers the first page and subscribes the session; later entries reach subscribed sessions on their edges in seq order")
    func syncThenLive() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let user = uniqueID("ulla"), peer = uniqueID("peter")
        let edges = try await inputs.edges(2)
        let logged = try await loggedMessages(from: peer, to: user, count: 5, redis: inputs.stack.redis)
        try await inputs.inbox(logged.prefix(3).map { InboxEntry(user: user, entry: $0) })
        try await inputs.waitForHead(user, 3)

        try await inputs.query(QueryEnvelope(kind: .sync, user: user, device: "phone", session: "s1", edge: edges[0].id, after: 0,
                                             subscribe: true))
        try await inputs.query(QueryEnvelope(kind: .sync, user: user, device: Device.legacy, session: "s2", edge: edges[1].id,
                                             subscribe: true))
        for (index, session) in ["s1", "s2"].enumerated() {
            let page = try await edges[index].reader.waitFor(DeliverEnvelope.self, "\(session)'s first page") { records in
                records.first { $0.value.page != nil && $0.value.sessions == [session] }?.value
            }
            let stored = try #require(try await inputs.stack.redis.send(.hget(RedisKeys.StreamKeys(user).meta, "e")))
            #expect(page.page == SyncPage(epoch: stored, head: 3, after: 0, more: false, reset: false))
            #expect(page.entries == logged.prefix(3).enumerated().map { var entry = $1; entry.seq = UInt64($0 + 1); return entry })
        }

        try await inputs.inbox(logged.suffix(2).map { InboxEntry(user: user, entry: $0) })
        for (index, session) in ["s1", "s2"].enumerated() {
            let live = try await edges[index].reader.waitFor(DeliverEnvelope.self, "\(session)'s live entries") { records in
                let entries = liveEntries(records, user: user, session: session)
                return entries.count >= 2 ? entries : nil
            }
            #expect(live.map(\.seq) == [4, 5])
            #expect(live.map(\.body) == ["m4", "m5"])
        }
        for edge in edges { await edge.reader.stop() }
    }

    @Test("a replayed inbox batch is appended once and delivered again with the same seqs")
    func replayedBatch() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let user = uniqueID("rita"), peer = uniqueID("peter")
        let edge = try await inputs.edges(1)[0]
        try await inputs.subscribe(user, session: "r1", edge: edge.id)
        let batch = [messageEntry(from: peer, to: user, cseq: 1), messageEntry(from: peer, to: user, cseq: 2)].map {
            InboxEntry(user: user, entry: $0)
        }
        try await inputs.inbox(batch)
        try await inputs.inbox(batch)
        let delivered = try await edge.reader.waitFor(DeliverEnvelope.self, "both deliveries") { records in
            let entries = liveEntries(records, user: user, session: "r1")
            return entries.count >= 4 ? entries : nil
        }
        #expect(delivered.map(\.seq) == [1, 2, 1, 2])
        #expect(delivered.map(\.msg) == (batch + batch).map(\.entry.msg))
        #expect(try await inputs.stack.redis.send(.hget(RedisKeys.StreamKeys(user).meta, "h")) == "2")
        await edge.reader.stop()
    }

    @Test("a sync with more than a page says more; the next pull after its last seq continues without subscribing again")
    func paging() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let user = uniqueID("paula"), peer = uniqueID("peter")
        let edge = try await inputs.edges(1)[0]
        let logged = try await loggedMessages(from: peer, to: user, count: 250, redis: inputs.stack.redis)
        try await inputs.inbox(logged.map { InboxEntry(user: user, entry: $0) })
        try await inputs.waitForHead(user, 250)
        try await inputs.query(QueryEnvelope(kind: .sync, user: user, device: "phone", session: "p1", edge: edge.id, after: 0,
                                             subscribe: true))
        let first = try await edge.reader.waitFor(DeliverEnvelope.self, "the first page") { records in
            records.first { $0.value.page != nil }?.value
        }
        #expect(first.entries.map(\.seq) == Array(1...200) && first.page?.more == true)
        try await inputs.query(QueryEnvelope(kind: .sync, user: user, device: "phone", session: "p1", edge: edge.id, after: 200,
                                             epoch: first.page?.epoch))
        let second = try await edge.reader.waitFor(DeliverEnvelope.self, "the second page") { records in
            records.first { $0.value.page?.after == 200 }?.value
        }
        #expect(second.entries.map(\.seq) == Array(201...250) && second.page?.more == false)
        #expect(try await inputs.stack.redis.send(.hgetall(RedisKeys.StreamKeys(user).subscriptions)).keys.sorted() == ["p1"])
        await edge.reader.stop()
    }

    @Test("unsubscribe and session_offline end subscriptions")
    func unsubscribe() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let user = uniqueID("uma")
        let edge = try await inputs.edges(1)[0]
        try await inputs.subscribe(user, session: "u1", edge: edge.id)
        try await inputs.subscribe(user, session: "u2", edge: edge.id)
        try await inputs.query(QueryEnvelope(kind: .unsubscribe, user: user, device: "phone", session: "u1", edge: edge.id))
        try await inputs.stack.producer.send(PresenceChange(kind: .sessionOffline, user: user, session: "u2", edge: edge.id,
                                                            status: .offline, transition: true),
                                             topic: inputs.stack.topics.presenceChanges, key: user)
        try await waitUntil("both subscriptions ended") {
            try await inputs.stack.redis.send(.hlen(RedisKeys.StreamKeys(user).subscriptions)) == 0
        }
        await edge.reader.stop()
    }

    @Test("an ack moves the device's cursor and gives the sender one delivered receipt, however often it is handled")
    func ackReceipts() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let bob = uniqueID("bob"), alice = uniqueID("alice")
        let edge = try await inputs.edges(1)[0]
        try await inputs.subscribe(alice, session: "a1", edge: edge.id)
        let messages = [messageEntry(from: alice, to: bob, cseq: 1), messageEntry(from: alice, to: bob, cseq: 2)]
        try await inputs.inbox(messages.map { InboxEntry(user: bob, entry: $0) })
        try await inputs.waitForHead(bob, 2)

        let ack = CursorMove(kind: .ack, user: bob, device: "phone", session: "b1", edge: edge.id, seq: 2, after: 0)
        try await inputs.move(ack)
        try await inputs.move(ack)
        // Fences: a later ack on the same key was handled after both, and an entry after their
        // receipts on alice's partition was appended after them.
        try await inputs.move(CursorMove(kind: .ack, user: bob, device: "fence", session: "b1", edge: edge.id, seq: 1, after: 0))
        try await waitUntil("the fence ack") { try await inputs.stack.redis.send(.hget(RedisKeys.StreamKeys(bob).devices, "fence")) == "1" }
        #expect(try await inputs.stack.redis.send(.hget(RedisKeys.StreamKeys(bob).devices, "phone")) == "2")
        // The receipts of both acks are produced together after their Redis step: once one has
        // arrived, a second one would be in alice's partition before the fence.
        _ = try await edge.reader.waitFor(DeliverEnvelope.self, "alice's receipt") { records in
            liveEntries(records, user: alice, session: "a1").contains { $0.kind == .receipt } ? true : nil
        }
        let fence = messageEntry(from: bob, to: alice, cseq: 3)
        try await inputs.inbox([InboxEntry(user: alice, entry: fence)])

        let delivered = try await edge.reader.waitFor(DeliverEnvelope.self, "alice's receipt and the fence") { records in
            let entries = liveEntries(records, user: alice, session: "a1")
            return entries.contains { $0.msg == fence.msg } ? entries : nil
        }
        let receipt = StreamEntry(kind: .receipt, seq: 1, msg: messages[1].msg, conv: messages[1].conv, cseq: 2, by: bob,
                                  status: .delivered, id: messages[1].id)
        #expect(delivered.map(\.seq) == [1, 2])
        #expect(delivered.first == receipt)
        await edge.reader.stop()
    }

    @Test("a read appends a read entry delivered to the reader's sessions and gives the dm peer a read receipt")
    func readMove() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let bob = uniqueID("bob"), alice = uniqueID("alice")
        let edge = try await inputs.edges(1)[0]
        let logged = try await loggedMessages(from: alice, to: bob, count: 3, redis: inputs.stack.redis)
        try await inputs.inbox(logged.map { InboxEntry(user: bob, entry: $0) })
        try await inputs.waitForHead(bob, 3)
        try await inputs.subscribe(bob, session: "b1", edge: edge.id)
        try await inputs.subscribe(alice, session: "a1", edge: edge.id)

        let conv = logged[0].conv
        try await inputs.move(CursorMove(kind: .read, user: bob, device: "phone", session: "b1", edge: edge.id, conv: conv, cseq: 2))
        let records = try await edge.reader.waitFor(DeliverEnvelope.self, "the read entry and the receipt") { records in
            let bobs = liveEntries(records, user: bob, session: "b1"), alices = liveEntries(records, user: alice, session: "a1")
            return bobs.isEmpty || alices.isEmpty ? nil : (bobs, alices)
        }
        #expect(records.0 == [StreamEntry(kind: .read, seq: 4, conv: conv, cseq: 2)])
        #expect(records.1 == [StreamEntry(kind: .receipt, seq: 1, msg: logged[1].msg, conv: conv, cseq: 2, by: bob, status: .read,
                                          id: logged[1].id)])
        #expect(try await inputs.stack.redis.send(.hget(RedisKeys.StreamKeys(bob).read, conv)) == "2")
        await edge.reader.stop()
    }

    @Test("a read of a conversation the user is not in answers not_member to that session only", arguments: [true, false])
    func readNotMember(namesUser: Bool) async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let bob = uniqueID("bob")
        let edge = try await inputs.edges(1)[0]
        let conv = namesUser ? Conversation.direct(bob, uniqueID("zed")) : Conversation.direct(uniqueID("yan"), uniqueID("zed"))
        try await inputs.move(CursorMove(kind: .read, user: bob, device: "phone", session: "b1", edge: edge.id, conv: conv, cseq: 1))
        let answer = try await edge.reader.waitFor(DeliverEnvelope.self, "the refusal") { records in
            records.first { $0.value.user == bob }?.value
        }
        #expect(answer.sessions == ["b1"] && answer.error?.code == .notMember && answer.entries.isEmpty)
        await edge.reader.stop()
    }

    @Test("malformed records on the four inputs are skipped; later records are handled")
    func malformed() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let user = uniqueID("mallory")
        for topic in [inputs.stack.topics.inbox, inputs.stack.topics.acks, inputs.stack.topics.queries, inputs.stack.topics.presenceChanges] {
            try await inputs.stack.producer.sendRaw(Array("}{".utf8), topic: topic, key: user)
        }
        try await inputs.inbox([InboxEntry(user: user, entry: StreamEntry(kind: .message, conv: "not a conv", cseq: 1)),
                                InboxEntry(user: user, entry: messageEntry(from: uniqueID("peter"), to: user, cseq: 1))])
        try await inputs.waitForHead(user, 1)
        try await inputs.move(CursorMove(kind: .ack, user: user, device: "phone", session: "m1", edge: "bad edge", seq: 1))
        try await inputs.move(CursorMove(kind: .ack, user: user, device: "phone", session: "m1", edge: "e1", seq: 1))
        try await waitUntil("acked") { try await inputs.stack.redis.send(.hget(RedisKeys.StreamKeys(user).devices, "phone")) == "1" }
    }
}
