import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import Relay
import Testing

enum RelayTypingShared {
    static let stack = TaskLocal<ServiceStack?>(wrappedValue: nil)
}

/// relay-svc's typing relay against the broker and redis-server: the test writes the groups'
/// keys and presence-svc's session hashes, produces signals on chat.signals (one partition, so
/// a later marker proves an earlier signal was handled) and reads the edges' deliver topics.
@Suite("relay-svc typing", SharedStack(slot: RelayTypingShared.stack, start: {
    try await ServiceStack.start("relay-typing") { try await startRelay(prefix: $0, extra: ["--typing-max-members", "3"]) }
}))
struct RelayTypingTests {
    /// Two edges with their deliver topics and readers.
    private struct Edges {
        let ids: [String]
        let readers: [TopicReader]

        static func start(_ topics: Topics) async throws -> Edges {
            let ids = [uniqueID("e1"), uniqueID("e2")]
            try await createDeliverTopics(topics, edges: ids)
            var readers: [TopicReader] = []
            for id in ids { readers.append(try await TopicReader.start(topics.deliver(edge: id))) }
            return Edges(ids: ids, readers: readers)
        }

        /// (edge index, envelope) of everything delivered so far.
        var delivered: [(edge: Int, envelope: DeliverEnvelope)] {
            readers.enumerated().flatMap { index, reader in reader.decoded(DeliverEnvelope.self).map { (index, $0.value) } }
        }

        func waitFor(_ what: String, _ done: @escaping @Sendable ([(edge: Int, envelope: DeliverEnvelope)]) -> Bool) async throws {
            try await waitUntil(what) { done(delivered) }
        }

        func stop() async {
            for reader in readers { await reader.stop() }
        }
    }

    /// A group `conv` with these members' records and `count` current members.
    private func makeGroup(_ redis: RedisClient, _ conv: String, count: Int, _ members: [String: GroupMemberRecord]) async throws {
        let keys = RedisKeys.ConversationKeys(conv)
        _ = try await redis.send(.hset(keys.meta, ["n": "5", "count": "\(count)"]))
        _ = try await redis.send(.hset(keys.members, members.mapValues(\.value)))
    }

    /// `user`'s sessions (session → edge id), as presence-svc keeps them.
    private func online(_ redis: RedisClient, _ user: String, _ sessions: [String: String]) async throws {
        _ = try await redis.send(.hset(RedisKeys.presence(user), sessions))
    }

    /// Produces typing signals on partition 0 of chat.signals, in order.
    private func signal(_ stack: ServiceStack, _ user: String, in conv: String, session: String, edge: String,
                        ts: UInt64 = UnixTime.nowMilliseconds) async throws {
        let signal = SignalEnvelope(kind: .typing, conv: conv, user: user, session: session, edge: edge, ts: ts)
        _ = try await stack.producer.producer.send(KafkaOutgoingRecord(topic: stack.topics.signals, key: Array(conv.utf8),
                                                                       value: Envelope.encode(signal), partition: 0))
    }

    @Test("typing in a group reaches the other current members on each of their edges, not the typer nor a former member; in a dm the peer")
    func relaysToMembers() async throws {
        let stack = try sharedStack(RelayTypingShared.stack)
        let edges = try await Edges.start(stack.topics)
        let (e1, e2) = (edges.ids[0], edges.ids[1])
        let alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol"), dave = uniqueID("dave"), erin = uniqueID("erin")
        let group = "g:" + uniqueID("team")
        try await makeGroup(stack.redis, group, count: 3, [
            alice: GroupMemberRecord(role: .admin, intervals: [.init(join: 1)]),
            bob: GroupMemberRecord(role: .member, intervals: [.init(join: 1, leave: 2), .init(join: 4)]),
            carol: GroupMemberRecord(role: .member, intervals: [.init(join: 3)]),
            dave: GroupMemberRecord(role: .member, intervals: [.init(join: 1, leave: 3)]),
        ])
        try await online(stack.redis, alice, ["a1": e1])
        try await online(stack.redis, bob, ["b1": e1, "b2": e2, "b3": e2])
        try await online(stack.redis, carol, ["c1": e2])
        try await online(stack.redis, dave, ["d1": e1])
        try await online(stack.redis, erin, ["x1": e2])

        try await signal(stack, alice, in: group, session: "a1", edge: e1)
        let dm = Conversation.direct(alice, erin)
        try await signal(stack, alice, in: dm, session: "a1", edge: e1)
        // Each batch's envelopes for one edge are one record: once bob's notice is on e1 and
        // erin's and carol's on e2, whatever else these signals made is there too.
        let groupNotice = TypingNotice(conv: group, user: alice)
        try await edges.waitFor("bob's notice on both edges, carol's and erin's") { delivered in
            let seen = Set(delivered.filter { $0.envelope.typing != nil }.map { "\($0.envelope.user)@\($0.edge)" })
            return seen.isSuperset(of: ["\(bob)@0", "\(bob)@1", "\(carol)@1", "\(erin)@1"])
        }

        let notices = edges.delivered.filter { $0.envelope.typing != nil }
        #expect(notices.filter { $0.envelope.typing == groupNotice }.map { "\($0.envelope.user)@\($0.edge)" }.sorted()
                == ["\(bob)@0", "\(bob)@1", "\(carol)@1"].sorted(), "one per (member, edge), none for alice or dave")
        #expect(notices.allSatisfy { $0.envelope.sessions == nil && $0.envelope.entries.isEmpty && $0.envelope.error == nil })
        #expect(notices.filter { $0.envelope.typing?.conv == dm }.map { "\($0.envelope.user)@\($0.edge)" } == ["\(erin)@1"])
        await edges.stop()
    }

    @Test("a dm with a block (either way) relays no typing; a group shared with the blocker still does")
    func blockedDirectDropsTyping() async throws {
        let stack = try sharedStack(RelayTypingShared.stack)
        let edges = try await Edges.start(stack.topics)
        let e1 = edges.ids[0]
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let dm = Conversation.direct(alice, bob), group = "g:" + uniqueID("both")
        let member = GroupMemberRecord(role: .member, intervals: [.init(join: 1)])
        try await makeGroup(stack.redis, group, count: 2, [alice: member, bob: member])
        // alice blocks bob (relay-svc's block state of the dm).
        _ = try await stack.redis.send(.sadd(RedisKeys.ConversationKeys(dm).blocks, [alice]))
        try await online(stack.redis, alice, ["a1": e1])
        try await online(stack.redis, bob, ["b1": e1])

        try await signal(stack, bob, in: dm, session: "b1", edge: e1)
        try await signal(stack, alice, in: dm, session: "a1", edge: e1)
        // The marker: a later signal on the same partition, delivered to the same edge.
        try await signal(stack, bob, in: group, session: "b1", edge: e1)
        try await edges.waitFor("the marker") { delivered in delivered.contains { $0.envelope.typing == TypingNotice(conv: group, user: bob) } }

        #expect(edges.delivered.compactMap(\.envelope.typing) == [TypingNotice(conv: group, user: bob)],
                "nothing of the blocked dm, in either direction")
        #expect(edges.delivered.allSatisfy { $0.envelope.error == nil })
        await edges.stop()
    }

    @Test("a non-member's typing gets not_member on its session; a group over --typing-max-members and a stale signal get nothing")
    func refusedAndDropped() async throws {
        let stack = try sharedStack(RelayTypingShared.stack)
        let edges = try await Edges.start(stack.topics)
        let (e1, e2) = (edges.ids[0], edges.ids[1])
        let alice = uniqueID("alice"), bob = uniqueID("bob"), mallory = uniqueID("mallory")
        let small = "g:" + uniqueID("small"), big = "g:" + uniqueID("big")
        let member = GroupMemberRecord(role: .member, intervals: [.init(join: 1)])
        try await makeGroup(stack.redis, small, count: 2, [alice: member, bob: member])
        try await makeGroup(stack.redis, big, count: 4, [alice: member, bob: member, uniqueID("x"): member, uniqueID("y"): member])
        try await online(stack.redis, alice, ["a1": e1])
        try await online(stack.redis, bob, ["b1": e2])

        try await signal(stack, mallory, in: small, session: "m1", edge: e2)
        try await signal(stack, mallory, in: Conversation.direct(alice, bob), session: "m1", edge: e2)
        try await signal(stack, mallory, in: "g:" + uniqueID("nowhere"), session: "m2", edge: e1)
        try await signal(stack, alice, in: big, session: "a1", edge: e1)
        try await signal(stack, alice, in: small, session: "a1", edge: e1, ts: UnixTime.nowMilliseconds - TypingRelay.maxAge - 1000)
        // The markers, one per edge: each edge's deliveries come in order, so everything the
        // signals before them made for an edge is there once its marker is.
        try await signal(stack, bob, in: small, session: "b1", edge: e2)
        try await signal(stack, alice, in: small, session: "a1", edge: e1)
        try await edges.waitFor("the markers") { delivered in
            delivered.contains { $0.edge == 0 && $0.envelope.typing == TypingNotice(conv: small, user: bob) }
                && delivered.contains { $0.edge == 1 && $0.envelope.typing == TypingNotice(conv: small, user: alice) }
        }

        let delivered = edges.delivered
        #expect(delivered.filter { $0.envelope.typing != nil }.map { "\($0.envelope.user)@\($0.edge)" } == ["\(alice)@0", "\(bob)@1"],
                "only the markers' notices: none for the big group nor the stale signal")
        let errors = delivered.filter { $0.envelope.error != nil }
        // Listed per edge: e1's, then e2's (in signal order).
        #expect(errors.map(\.edge) == [0, 1, 1])
        #expect(errors.allSatisfy { $0.envelope.user == mallory && $0.envelope.error?.code == .notMember })
        #expect(errors.map(\.envelope.sessions) == [["m2"], ["m1"], ["m1"]])
        await edges.stop()
    }
}
