import MetricsTestKit
import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
@testable import Presence
import Testing

/// presence-svc alone: the test plays the edges (presence.events) and reads presence.changes,
/// the edges' deliver topics and Redis.
@Suite("presence-svc", SharedStack(slot: PresenceShared.stack, start: {
    try await ServiceStack.start("presence") { try await startPresence(prefix: $0) }
}))
struct PresenceServiceTests {
    @Test("connect and disconnect keep presence:{user} and edgesessions:{edge}; only the first and last session are transitions")
    func connectAndDisconnect() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let user = uniqueID("ulla"), edge = uniqueID("edge")
        let reader = try await TopicReader.start(stack.topics.presenceChanges, partitions: 2)

        try await sendPresence(stack, .connect, edge: edge, user: user, session: "s1")
        try await sendPresence(stack, .connect, edge: edge, user: user, session: "s2")
        try await sendPresence(stack, .connect, edge: edge, user: user, session: "s2")  // a replayed event
        let online = try await waitForPresenceChanges(of: user, count: 3, in: reader)
        #expect(online == [
            PresenceChange(kind: .sessionOnline, user: user, session: "s1", edge: edge, status: .online, transition: true),
            PresenceChange(kind: .sessionOnline, user: user, session: "s2", edge: edge, status: .online, transition: false),
            PresenceChange(kind: .sessionOnline, user: user, session: "s2", edge: edge, status: .online, transition: false),
        ])
        #expect(reader.decoded(PresenceChange.self).filter { $0.value.user == user }.allSatisfy { $0.key == user })
        #expect(try await stack.redis.send(.hgetall(RedisKeys.presence(user))) == ["s1": edge, "s2": edge])
        #expect(try await stack.redis.send(.smembers(RedisKeys.edgeSessions(edge))) == ["\(user)\ts1", "\(user)\ts2"])

        try await sendPresence(stack, .disconnect, edge: edge, user: user, session: "s1")
        try await sendPresence(stack, .disconnect, edge: edge, user: user, session: "s1")  // replayed: no change
        let closed = UnixTime.nowMilliseconds
        try await sendPresence(stack, .disconnect, edge: edge, user: user, session: "s2", ts: closed)
        let all = try await waitForPresenceChanges(of: user, count: 5, in: reader)
        #expect(Array(all.dropFirst(3)) == [
            PresenceChange(kind: .sessionOffline, user: user, session: "s1", edge: edge, status: .online, transition: false),
            PresenceChange(kind: .sessionOffline, user: user, session: "s2", edge: edge, status: .offline, transition: true,
                           lastSeen: closed),
        ])
        #expect(try await stack.redis.send(.exists(RedisKeys.presence(user))) == false)
        #expect(try await stack.redis.send(.smembers(RedisKeys.edgeSessions(edge))).isEmpty)
        _ = try await stack.redis.send(.zrem(RedisKeys.edges, [edge]))
        await reader.stop()
    }

    @Test("edge_started drops the sessions an earlier run of that edge id left, with offline changes")
    func edgeStarted() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let ulla = uniqueID("ulla"), vera = uniqueID("vera"), edge = uniqueID("edge"), other = uniqueID("edge")
        let reader = try await TopicReader.start(stack.topics.presenceChanges, partitions: 2)

        try await sendPresence(stack, .connect, edge: edge, user: ulla, session: "u1")
        try await sendPresence(stack, .connect, edge: edge, user: vera, session: "v1")
        try await sendPresence(stack, .connect, edge: other, user: vera, session: "v2")  // vera is also elsewhere
        _ = try await waitForPresenceChanges(of: vera, count: 2, in: reader)
        _ = try await waitForPresenceChanges(of: ulla, count: 1, in: reader)

        // The edge restarts with the same id.
        let started = UnixTime.nowMilliseconds
        try await sendPresence(stack, .edgeStarted, edge: edge, ts: started)
        let ullaChanges = try await waitForPresenceChanges(of: ulla, count: 2, in: reader)
        #expect(ullaChanges.last == PresenceChange(kind: .sessionOffline, user: ulla, session: "u1", edge: edge,
                                                   status: .offline, transition: true, lastSeen: started))
        #expect(try await stack.redis.send(.get(RedisKeys.lastSeen(ulla))) == String(started))
        #expect(try await stack.redis.send(.exists(RedisKeys.lastSeen(vera))) == false, "vera is still online elsewhere")
        let veraChanges = try await waitForPresenceChanges(of: vera, count: 3, in: reader)
        #expect(veraChanges.last == PresenceChange(kind: .sessionOffline, user: vera, session: "v1", edge: edge,
                                                   status: .online, transition: false))
        #expect(try await stack.redis.send(.exists(RedisKeys.presence(ulla))) == false)
        #expect(try await stack.redis.send(.hgetall(RedisKeys.presence(vera))) == ["v2": other])
        #expect(try await stack.redis.send(.exists(RedisKeys.edgeSessions(edge))) == false)
        // The edge is alive again, as of when presence-svc heard of it (not the edge's clock).
        #expect(try await stack.redis.send(.zscore(RedisKeys.edges, edge)) ?? 0 >= Double(started))

        // Sessions of the new run count again.
        try await sendPresence(stack, .connect, edge: edge, user: ulla, session: "u2")
        let again = try await waitForPresenceChanges(of: ulla, count: 3, in: reader)
        #expect(again.last == PresenceChange(kind: .sessionOnline, user: ulla, session: "u2", edge: edge, status: .online, transition: true))
        try await sendPresence(stack, .edgeStopped, edge: edge)
        try await sendPresence(stack, .edgeStopped, edge: other)
        _ = try await waitForPresenceChanges(of: ulla, count: 4, in: reader)
        _ = try await stack.redis.send(.zrem(RedisKeys.edges, [edge, other]))
        await reader.stop()
    }

    @Test("a query is answered with the users' statuses on the asking edge's deliver topic, for the asking session")
    func query() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let asker = uniqueID("quinn"), online = uniqueID("olive"), offline = uniqueID("otto")
        let edge = uniqueID("edge")
        try await createDeliverTopics(stack.topics, edges: [edge])
        let deliver = try await TopicReader.start(stack.topics.deliver(edge: edge))

        // Both are the asker's dm peers (offline-svc's conversation list), so it may watch them.
        _ = try await stack.redis.send(.zadd(RedisKeys.StreamKeys(asker).conversations,
                                             [RedisScoredMember(member: Conversation.direct(asker, online), score: 1),
                                              RedisScoredMember(member: Conversation.direct(asker, offline), score: 2)]))
        try await sendPresence(stack, .connect, edge: edge, user: online, session: "o1")
        try await sendPresence(stack, .query, edge: edge, user: asker, session: "q1", users: [online, offline])
        let answer = try await deliver.waitFor(DeliverEnvelope.self, "the answer") { $0.first { $0.value.user == asker } }
        #expect(answer.key == asker)
        #expect(answer.value.sessions == ["q1"])
        #expect(answer.value.presence == [PresenceStatus(user: online, status: .online), PresenceStatus(user: offline, status: .offline)])
        #expect(answer.value.watch == [online, offline])
        #expect(answer.value.error == nil)
        #expect(answer.value.entries.isEmpty && answer.value.page == nil)
        try await sendPresence(stack, .edgeStopped, edge: edge)
        try await waitUntil("the edge's sessions removed") { try await stack.redis.send(.exists(RedisKeys.presence(online))) == false }
        _ = try await stack.redis.send(.zrem(RedisKeys.edges, [edge]))
        await deliver.stop()
    }

    @Test("malformed and incomplete events are skipped; the next good event is applied")
    func malformedEvents() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let user = uniqueID("mona"), edge = uniqueID("edge")
        let reader = try await TopicReader.start(stack.topics.presenceChanges, partitions: 2)

        try await stack.producer.sendRaw(Array("garbage".utf8), topic: stack.topics.presenceEvents, key: edge)
        try await stack.producer.sendRaw(Array(#"{"v":1,"kind":"explode","edge":"x","ts":1}"#.utf8), topic: stack.topics.presenceEvents, key: edge)
        try await sendPresence(stack, .connect, edge: edge, user: user)  // no session
        try await sendPresence(stack, .query, edge: edge, user: user, session: "m0")  // no users
        try await sendPresence(stack, .connect, edge: edge, user: user, session: "m1")
        let found = try await waitForPresenceChanges(of: user, count: 1, in: reader)
        #expect(found == [PresenceChange(kind: .sessionOnline, user: user, session: "m1", edge: edge, status: .online, transition: true)])
        #expect(try await stack.redis.send(.hgetall(RedisKeys.presence(user))) == ["m1": edge])
        try await sendPresence(stack, .disconnect, edge: edge, user: user, session: "m1")
        _ = try await waitForPresenceChanges(of: user, count: 2, in: reader)
        _ = try await stack.redis.send(.zrem(RedisKeys.edges, [edge]))
        await reader.stop()
    }

    @Test("an edge whose heartbeats stop is expired and all its sessions removed; a live edge keeps its sessions")
    func deadEdgeExpires() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        // A database of its own: the `edges` ZSET is one key per Redis database, and this
        // instance's 2 s timeout must not sweep the edges of the other presence tests.
        let redisURL = TestEnvironment.redisURL + "/1"
        let prefix = TestEnvironment.uniquePrefix("presence-sweep")
        let topics = Topics(prefix: prefix)
        let redis = try testRedis(url: redisURL)
        let dead = uniqueID("dead"), alive = uniqueID("alive")
        let ulla = uniqueID("ulla"), vera = uniqueID("vera"), walt = uniqueID("walt")

        try await withService("presence-sweep", build: { logger, onServerRunning in
            let configuration = try loadConfiguration(PresenceConfiguration.self, serviceArguments(prefix: prefix, redisURL: redisURL)
                + ["--edge-timeout", "2s", "--sweep-interval", "200ms"])
            return try await buildPresence(configuration, logger: logger, onServerRunning: onServerRunning)
        }) { _ in
            let reader = try await TopicReader.start(topics.presenceChanges, partitions: 2)
            func event(_ kind: PresenceEvent.Kind, _ edge: String, _ user: String? = nil, _ session: String? = nil,
                       ts: UInt64 = UnixTime.nowMilliseconds) async throws {
                try await stack.producer.send(PresenceEvent(kind: kind, edge: edge, user: user, session: session, ts: ts),
                                              topic: topics.presenceEvents, key: edge)
            }
            // The live edge keeps heartbeating (liveness is when presence-svc hears from it).
            try await event(.heartbeat, alive)
            try await event(.connect, alive, walt, "w1")
            let heartbeats = Task {
                while !Task.isCancelled {
                    try? await event(.heartbeat, alive)
                    try? await Task.sleep(for: .milliseconds(300))
                }
            }
            defer { heartbeats.cancel() }
            try await event(.heartbeat, dead)
            try await event(.connect, dead, ulla, "u1")
            try await event(.connect, dead, vera, "v1")
            try await event(.connect, dead, vera, "v2")

            let expected: [(String, [String])] = [(ulla, ["u1"]), (vera, ["v1", "v2"])]
            for (user, sessions) in expected {
                let found = try await waitForPresenceChanges(of: user, count: 2 * sessions.count, in: reader)
                let offline = found.filter { $0.kind == .sessionOffline }
                #expect(Set(offline.map(\.session)) == Set(sessions))
                #expect(offline.last?.status == .offline)
                #expect(offline.last?.transition == true)
                #expect(offline.filter(\.transition).count == 1)
                #expect(try await redis.send(.exists(RedisKeys.presence(user))) == false)
                let lastSeen = try #require(offline.last?.lastSeen, "the offline transition carries the last seen")
                #expect(try await redis.send(.get(RedisKeys.lastSeen(user))) == String(lastSeen))
            }
            try await waitUntil("the dead edge left the edges set") {
                try await redis.send(.zscore(RedisKeys.edges, dead)) == nil
            }
            #expect(try await redis.send(.exists(RedisKeys.edgeSessions(dead))) == false)
            #expect(try await redis.send(.hgetall(RedisKeys.presence(walt))) == ["w1": alive])

            // The "dead" edge was only slow: when it is heard from again it is asked to report
            // its sessions once more.
            try await createTopics([TopicSetup.deliver(topics, edge: dead)])
            let deliver = try await TopicReader.start(topics.deliver(edge: dead), partitions: 1)
            try await event(.heartbeat, dead)
            let resync = try await deliver.waitFor(DeliverEnvelope.self, "the resync request") { $0.first { $0.value.resync } }
            #expect(resync.value.user == "")
            await deliver.stop()
            heartbeats.cancel()
            #expect(presenceChanges(of: walt, in: reader).map(\.kind) == [.sessionOnline])
            try await event(.edgeStopped, alive)
            try await waitUntil("the live edge's sessions removed") { try await redis.send(.exists(RedisKeys.presence(walt))) == false }
            _ = try await redis.send(.zrem(RedisKeys.edges, [alive]))
            await reader.stop()
        }
        await redis.close()
    }
}

/// Presence's two-step updates (one step per cluster slot) after a crash between the steps, its
/// sessions gauge, and its sweeper at shutdown.
extension PresenceServiceTests {
    @Test("a crash after a connect's first step leaves an index entry only: an edge restart removes it without a change, the replayed connect completes")
    func crashInsideConnect() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let user = uniqueID("cora"), edge = uniqueID("edge")
        let reader = try await TopicReader.start(stack.topics.presenceChanges, partitions: 2)

        // The first step alone, as when presence-svc dies before the second.
        _ = try await stack.redis.send(PresenceWrites.connect(user: user, session: "c1", edge: edge, maxSessions: PresenceConfiguration.defaultMaxUserSessions).first)
        #expect(try await stack.redis.send(.exists(RedisKeys.presence(user))) == false, "presence is as before the event")
        #expect(try await stack.redis.send(.smembers(RedisKeys.edgeSessions(edge))) == ["\(user)\tc1"])

        // An edge removal finds the entry and deletes it; the user had nothing to lose.
        try await sendPresence(stack, .edgeStarted, edge: edge)
        try await waitUntil("the edge's index removed") { try await stack.redis.send(.exists(RedisKeys.edgeSessions(edge))) == false }
        // The connect's batch was not committed, so the event comes again and completes. Its
        // change is the user's first: none was published for the half-done connect (the user's
        // changes share a partition, so one would come first).
        try await sendPresence(stack, .connect, edge: edge, user: user, session: "c1")
        let found = try await waitForPresenceChanges(of: user, count: 1, in: reader)
        #expect(found == [PresenceChange(kind: .sessionOnline, user: user, session: "c1", edge: edge, status: .online, transition: true)])
        #expect(try await stack.redis.send(.hgetall(RedisKeys.presence(user))) == ["c1": edge])
        #expect(try await stack.redis.send(.smembers(RedisKeys.edgeSessions(edge))) == ["\(user)\tc1"])

        try await sendPresence(stack, .edgeStopped, edge: edge)
        _ = try await waitForPresenceChanges(of: user, count: 2, in: reader)
        _ = try await stack.redis.send(.zrem(RedisKeys.edges, [edge]))
        await reader.stop()
    }

    @Test("a crash after a disconnect's first step leaves an index entry only: the replayed disconnect removes it without a second change")
    func crashInsideDisconnect() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let user = uniqueID("dora"), edge = uniqueID("edge")
        let reader = try await TopicReader.start(stack.topics.presenceChanges, partitions: 2)
        try await sendPresence(stack, .connect, edge: edge, user: user, session: "d1")
        _ = try await waitForPresenceChanges(of: user, count: 1, in: reader)

        // The first step alone (and no change published: the process died before producing).
        let closed = UnixTime.nowMilliseconds
        #expect(try await stack.redis.send(PresenceWrites.disconnect(user: user, session: "d1", edge: edge, lastSeen: closed).first)
                == SessionCount(changed: true, remaining: 0))
        #expect(try await stack.redis.send(.exists(RedisKeys.presence(user))) == false)
        #expect(try await stack.redis.send(.get(RedisKeys.lastSeen(user))) == String(closed), "last seen is part of the same step")
        #expect(try await stack.redis.send(.smembers(RedisKeys.edgeSessions(edge))) == ["\(user)\td1"], "the index is a superset")

        try await sendPresence(stack, .disconnect, edge: edge, user: user, session: "d1", ts: closed + 1000)
        try await waitUntil("the index entry removed") { try await stack.redis.send(.exists(RedisKeys.edgeSessions(edge))) == false }
        #expect(try await stack.redis.send(.get(RedisKeys.lastSeen(user))) == String(closed), "the replay changed nothing")
        // A next session is the user's first again, and nothing came between.
        try await sendPresence(stack, .connect, edge: edge, user: user, session: "d2")
        let found = try await waitForPresenceChanges(of: user, count: 2, in: reader)
        #expect(found == [
            PresenceChange(kind: .sessionOnline, user: user, session: "d1", edge: edge, status: .online, transition: true),
            PresenceChange(kind: .sessionOnline, user: user, session: "d2", edge: edge, status: .online, transition: true),
        ])

        try await sendPresence(stack, .edgeStopped, edge: edge)
        _ = try await waitForPresenceChanges(of: user, count: 3, in: reader)
        _ = try await stack.redis.send(.zrem(RedisKeys.edges, [edge]))
        await reader.stop()
    }

    @Test("parley_presence_sessions follows the sessions the live edges hold; the sweeper removes a dead edge's half-done disconnect")
    func sessionsGauge() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        // A database of its own: the gauge counts every edge in it.
        let metrics = TestMetrics()
        let (store, redis) = try await isolatedPresenceStore(stack, database: 3, label: "presence-gauge", metrics: metrics)
        let user = uniqueID("gus"), edge = uniqueID("edge"), other = uniqueID("edge")
        var offset: Int64 = 0
        func apply(_ events: [PresenceEvent]) async throws {
            try await store.apply(events.map { event in
                offset += 1
                return KafkaRecord(topic: stack.topics.presenceEvents, partition: 0, offset: offset, key: Array(event.edge.utf8),
                                   value: Envelope.encode(event), timestamp: nil)
            })
        }
        func event(_ kind: PresenceEvent.Kind, _ edge: String, _ session: String? = nil) -> PresenceEvent {
            PresenceEvent(kind: kind, edge: edge, user: session == nil ? nil : user, session: session, ts: UnixTime.nowMilliseconds)
        }
        func gauge() throws -> Double? { try metrics.expectGauge("parley_presence_sessions").lastValue }

        try await apply([event(.heartbeat, edge), event(.heartbeat, other), event(.connect, edge, "g1"),
                         event(.connect, edge, "g2"), event(.connect, other, "g3")])
        try await store.sweep(timeout: .seconds(60))
        #expect(try gauge() == 3)
        try await apply([event(.disconnect, edge, "g1")])
        try await store.sweep(timeout: .seconds(60))
        #expect(try gauge() == 2)

        // A crash between a disconnect's steps on `edge`, then `edge` stops heartbeating.
        _ = try await redis.send(PresenceWrites.disconnect(user: user, session: "g2", edge: edge, lastSeen: 1).first)
        let later = UnixTime.nowMilliseconds + 30_000  // `other` is heard from 30 s later, `edge` is not
        _ = try await redis.send(.zadd(RedisKeys.edges, [RedisScoredMember(member: other, score: Double(later))]))
        try await store.sweep(timeout: .seconds(10), now: later)
        #expect(try gauge() == 1, "only the live edge's session counts")
        #expect(try await redis.send(.exists(RedisKeys.edgeSessions(edge))) == false, "the dead edge's index is gone")
        #expect(try await redis.send(.zscore(RedisKeys.edges, edge)) == nil)
        #expect(try await redis.send(.hgetall(RedisKeys.presence(user))) == ["g3": other])
        #expect(try metrics.expectCounter("parley_edges_expired_total").lastValue == 1)

        try await apply([event(.edgeStopped, other)])
        try await store.sweep(timeout: .seconds(10), now: later)
        #expect(try gauge() == 0)
        _ = try await redis.send(.raw(["FLUSHDB"]))
        await redis.close()
    }

    @Test("graceful shutdown ends the sweeper at once, also in the middle of its sleep")
    func sweeperStopsOnShutdown() async throws {
        let prefix = TestEnvironment.uniquePrefix("presence-slow-sweep")
        // stop() waits (bounded) for every service, the sweeper included, to return.
        try await withService("presence-slow-sweep", build: { logger, onServerRunning in
            let configuration = try loadConfiguration(PresenceConfiguration.self, serviceArguments(prefix: prefix)
                + ["--sweep-interval", "1h"])
            return try await buildPresence(configuration, logger: logger, onServerRunning: onServerRunning)
        }) { _ in }
    }
}
