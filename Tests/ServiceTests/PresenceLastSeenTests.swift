import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyTestSupport
@testable import Presence
import Testing

/// Last seen: `lastseen:{user}` and the offline change's `last_seen` are written when a user's
/// last session ends (disconnect, edge removal, edge expiry), never while a session remains.
extension PresenceServiceTests {
    @Test("last seen is stored when the last session closes, not while another remains; the offline change and query answers carry it")
    func lastSeenAfterLastSession() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let user = uniqueID("lena"), edge = uniqueID("edge"), other = uniqueID("edge")
        try await createDeliverTopics(stack.topics, edges: [edge])
        let reader = try await TopicReader.start(stack.topics.presenceChanges, partitions: 2)
        let deliver = try await TopicReader.start(stack.topics.deliver(edge: edge))
        /// The user's own status, as a query of session `asking` on `edge` answers it.
        func ownStatus(asking: String) async throws -> [PresenceStatus] {
            try await sendPresence(stack, .query, edge: edge, user: user, session: asking, users: [user])
            return try await deliver.waitFor(DeliverEnvelope.self, "the answer to \(asking)") {
                $0.first { $0.value.sessions == [asking] }?.value.presence
            }
        }

        try await sendPresence(stack, .connect, edge: edge, user: user, session: "l1")
        try await sendPresence(stack, .connect, edge: other, user: user, session: "l2")
        _ = try await waitForPresenceChanges(of: user, count: 2, in: reader)

        let first = UnixTime.nowMilliseconds
        try await sendPresence(stack, .disconnect, edge: edge, user: user, session: "l1", ts: first)
        let one = try await waitForPresenceChanges(of: user, count: 3, in: reader)
        #expect(one.last == PresenceChange(kind: .sessionOffline, user: user, session: "l1", edge: edge, status: .online, transition: false))
        #expect(try await stack.redis.send(.exists(RedisKeys.lastSeen(user))) == false, "a session remains")
        #expect(try await ownStatus(asking: "a1") == [PresenceStatus(user: user, status: .online)])

        let last = first + 5_000
        try await sendPresence(stack, .disconnect, edge: other, user: user, session: "l2", ts: last)
        let two = try await waitForPresenceChanges(of: user, count: 4, in: reader)
        #expect(two.last == PresenceChange(kind: .sessionOffline, user: user, session: "l2", edge: other, status: .offline,
                                           transition: true, lastSeen: last))
        #expect(try await stack.redis.send(.get(RedisKeys.lastSeen(user))) == String(last))

        // A replayed disconnect removes nothing and leaves last seen alone (the query comes after
        // it: one edge's events keep their order).
        try await sendPresence(stack, .disconnect, edge: edge, user: user, session: "l1", ts: last + 5_000)
        #expect(try await ownStatus(asking: "a2") == [PresenceStatus(user: user, status: .offline, lastSeen: last)])
        #expect(try await stack.redis.send(.get(RedisKeys.lastSeen(user))) == String(last))
        #expect(presenceChanges(of: user, in: reader).count == 4)
        await deliver.stop()
        await reader.stop()
    }

    @Test("an expired edge's users who lose their last session get its last heartbeat as last seen")
    func lastSeenOnEdgeExpiry() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        // A database of its own: the sweep looks at every edge in it.
        let (store, redis) = try await isolatedPresenceStore(stack, database: 4, label: "presence-expiry")
        let reader = try await TopicReader.start(stack.topics.presenceChanges, partitions: 2)
        let ulla = uniqueID("ulla"), vera = uniqueID("vera"), dead = uniqueID("edge"), alive = uniqueID("edge")
        var offset: Int64 = 0
        func apply(_ events: [PresenceEvent]) async throws {
            try await store.apply(events.map { event in
                offset += 1
                return KafkaRecord(topic: stack.topics.presenceEvents, partition: 0, offset: offset, key: Array(event.edge.utf8),
                                   value: Envelope.encode(event), timestamp: nil)
            })
        }
        func event(_ kind: PresenceEvent.Kind, _ edge: String, _ user: String? = nil, _ session: String? = nil) -> PresenceEvent {
            PresenceEvent(kind: kind, edge: edge, user: user, session: session, ts: UnixTime.nowMilliseconds)
        }

        try await apply([event(.heartbeat, dead), event(.heartbeat, alive), event(.connect, dead, ulla, "u1"),
                         event(.connect, dead, vera, "v1"), event(.connect, alive, vera, "v2")])
        let heartbeat = UInt64(try #require(try await redis.send(.zscore(RedisKeys.edges, dead))))
        let later = heartbeat + 30_000  // `alive` is heard from 30 s later, `dead` is not
        _ = try await redis.send(.zadd(RedisKeys.edges, [RedisScoredMember(member: alive, score: Double(later))]))
        try await store.sweep(timeout: .seconds(10), now: later)

        #expect(try await redis.send(.get(RedisKeys.lastSeen(ulla))) == String(heartbeat))
        #expect(try await redis.send(.exists(RedisKeys.lastSeen(vera))) == false, "vera is still online on the live edge")
        let ullaChanges = try await waitForPresenceChanges(of: ulla, count: 2, in: reader)
        #expect(ullaChanges.last == PresenceChange(kind: .sessionOffline, user: ulla, session: "u1", edge: dead, status: .offline,
                                                   transition: true, lastSeen: heartbeat))
        let veraChanges = try await waitForPresenceChanges(of: vera, count: 3, in: reader)
        #expect(veraChanges.last == PresenceChange(kind: .sessionOffline, user: vera, session: "v1", edge: dead, status: .online,
                                                   transition: false))
        _ = try await redis.send(.raw(["FLUSHDB"]))
        await redis.close()
        await reader.stop()
    }
}
