import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import Presence
import Testing

/// Deliver topics do not pile up: the sweeper retires dead edges, and the reaper deletes the
/// deliver topic of an edge retired longer than the grace ago, on the real broker.
extension PresenceServiceTests {
    @Test("an edge dead longer than the grace loses its deliver topic; a live edge, a recently dead one and one heard from again keep theirs")
    func reapDeliverTopics() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        // A database of its own: the sweep and the reaper look at every edge in it.
        let (store, redis) = try await isolatedPresenceStore(stack, database: 5, label: "presence-reaper")
        // A topic prefix of its own: the other tests create deliver topics under the stack's.
        let topics = Topics(prefix: TestEnvironment.uniquePrefix("reaper"))
        let admin = try KafkaAdmin(configuration: testKafkaConfiguration("reaper"), logger: serviceLogger("reaper"))
        let reaper = DeliverTopicReaper(topics: topics, redis: redis, admin: admin, grace: .seconds(3600),
                                        logger: serviceLogger("presence-reaper"))
        let gone = uniqueID("edge"), recent = uniqueID("edge"), live = uniqueID("edge")
        try await admin.createTopics([gone, recent, live].map { TopicSetup.deliver(topics, edge: $0) }, timeout: .seconds(10))
        let now = UnixTime.nowMilliseconds
        let hour: UInt64 = 3_600_000
        try await heartbeat(redis, [(gone, now - 2 * hour), (recent, now - hour / 2), (live, now)])

        try await store.sweep(timeout: .seconds(15), now: now)
        #expect(try await redis.send(.zrange(RedisKeys.edges, 0, -1)) == [live])
        #expect(try await redis.send(.zrangeWithScores(RedisKeys.retiredEdges, 0, -1)).map(\.member) == [gone, recent])

        #expect(try await reaper.reap(now: now) == [gone])
        #expect(try await deliverTopics(admin, topics) == Set([recent, live].map { topics.deliver(edge: $0) }))
        #expect(try await redis.send(.zrange(RedisKeys.retiredEdges, 0, -1)) == [recent])

        // `recent` is heard from again before its grace ends: it keeps its topic and leaves the retired set.
        try await heartbeat(redis, [(recent, now + hour), (live, now + hour)])
        #expect(try await reaper.reap(now: now + 2 * hour) == [])
        #expect(try await deliverTopics(admin, topics) == Set([recent, live].map { topics.deliver(edge: $0) }))
        #expect(try await redis.send(.zcard(RedisKeys.retiredEdges)) == 0)

        try await admin.deleteTopics([recent, live].map { topics.deliver(edge: $0) }, timeout: .seconds(10))
        await admin.shutdown()
        _ = try await redis.send(.raw(["FLUSHDB"]))
        await redis.close()
    }

    @Test("presence-svc deletes a stopped edge's deliver topic after --deliver-topic-grace; a heartbeating edge keeps its topic")
    func presenceServiceReaps() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        // A database of its own: this instance's 1 s grace must not delete the other tests' topics.
        let redisURL = TestEnvironment.redisURL + "/7"
        let redis = try testRedis(url: redisURL)
        _ = try await redis.send(.raw(["FLUSHDB"]))
        let prefix = TestEnvironment.uniquePrefix("presence-reap")
        let topics = Topics(prefix: prefix)
        let admin = try KafkaAdmin(configuration: testKafkaConfiguration("reap"), logger: serviceLogger("reap"))
        let dead = uniqueID("dead"), alive = uniqueID("alive")
        try await admin.createTopics([dead, alive].map { TopicSetup.deliver(topics, edge: $0) }, timeout: .seconds(10))

        try await withService("presence-reap", build: { logger, onServerRunning in
            let configuration = try loadConfiguration(PresenceConfiguration.self, serviceArguments(prefix: prefix, redisURL: redisURL)
                + ["--edge-timeout", "1s", "--sweep-interval", "100ms", "--deliver-topic-grace", "1s"])
            return try await buildPresence(configuration, logger: logger, onServerRunning: onServerRunning)
        }) { _ in
            func heartbeat(_ edge: String) async throws {
                try await stack.producer.send(PresenceEvent(kind: .heartbeat, edge: edge, ts: UnixTime.nowMilliseconds),
                                              topic: topics.presenceEvents, key: edge)
            }
            try await heartbeat(dead)
            let heartbeats = Task {
                while !Task.isCancelled {
                    try? await heartbeat(alive)
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            defer { heartbeats.cancel() }
            try await waitUntil("the dead edge's deliver topic deleted") {
                try await !deliverTopics(admin, topics).contains(topics.deliver(edge: dead))
            }
            #expect(try await deliverTopics(admin, topics) == [topics.deliver(edge: alive)])
            #expect(try await redis.send(.zrange(RedisKeys.edges, 0, -1)) == [alive])
            #expect(try await redis.send(.zcard(RedisKeys.retiredEdges)) == 0)
            heartbeats.cancel()
        }
        try await admin.deleteTopics([topics.deliver(edge: alive)], timeout: .seconds(10))
        await admin.shutdown()
        _ = try await redis.send(.raw(["FLUSHDB"]))
        await redis.close()
    }

    @Test("`edges` and `{edges}:retired` share a Redis Cluster slot (the sweeper moves an edge in one pipeline)")
    func retiredEdgesSlot() {
        #expect(RedisHashSlot.shared(by: [RedisKeys.edges, RedisKeys.retiredEdges]) != nil)
    }

    /// A Kubernetes rollout replaces every edge pod by one with a new id. 100 rollouts of 2 edges,
    /// one every 10 minutes, with the default grace (the deliver topics' 1 h retention): the
    /// broker keeps the 2 live edges' topics plus those of the 6 rollouts retired within the
    /// last hour, 14 topics instead of 200 (docs/deploy.md, "Deliver topics").
    @Test("after 100 simulated rollouts the broker holds the live edges' deliver topics and those retired within the grace, not one per edge id")
    func rollouts() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let (store, redis) = try await isolatedPresenceStore(stack, database: 6, label: "presence-rollouts")
        let topics = Topics(prefix: TestEnvironment.uniquePrefix("rollouts"))
        let admin = try KafkaAdmin(configuration: testKafkaConfiguration("rollouts"), logger: serviceLogger("rollouts"))
        let grace = try loadConfiguration(PresenceConfiguration.self, serviceArguments(prefix: topics.prefix)).deliverTopicGrace
        let reaper = DeliverTopicReaper(topics: topics, redis: redis, admin: admin, grace: grace,
                                        logger: serviceLogger("presence-rollouts"))
        let replicas = 2, rollouts = 100
        let every: UInt64 = 600_000, timeout = Duration.seconds(15), ready: UInt64 = 20_000
        let start = UnixTime.nowMilliseconds
        var running: [String] = []
        var created = 0
        for rollout in 0..<rollouts {
            let at = start + UInt64(rollout) * every
            let next = (0..<replicas).map { _ in uniqueID("edge-r\(rollout)") }
            try await admin.createTopics(next.map { TopicSetup.deliver(topics, edge: $0) }, timeout: .seconds(10))
            created += next.count
            // The old pods' last heartbeat is when the new ones start; the sweep runs once they are ready.
            try await heartbeat(redis, running.map { ($0, at) } + next.map { ($0, at + ready) })
            try await store.sweep(timeout: timeout, now: at + ready)
            try await reaper.reap(now: at + ready)
            running = next
        }

        let left = try await deliverTopics(admin, topics)
        let retiredWithinGrace = Int(grace.components.seconds * 1000) / Int(every) * replicas
        print("deliver topics after \(rollouts) rollouts of \(replicas) edges: \(left.count) (edges started: \(created))")
        #expect(created == rollouts * replicas)
        #expect(left.count == replicas + retiredWithinGrace, "\(left.count) deliver topics left")
        #expect(Set(running.map { topics.deliver(edge: $0) }).isSubset(of: left), "the live edges keep their topics")

        try await admin.deleteTopics(Array(left), timeout: .seconds(30))
        await admin.shutdown()
        _ = try await redis.send(.raw(["FLUSHDB"]))
        await redis.close()
    }
}

/// Sets the edges' last heartbeats (unix ms) as presence-svc records them.
private func heartbeat(_ redis: RedisClient, _ edges: [(String, UInt64)]) async throws {
    guard !edges.isEmpty else { return }
    _ = try await redis.send(.zadd(RedisKeys.edges, edges.map { RedisScoredMember(member: $0.0, score: Double($0.1)) }))
}

/// The deliver topics of `topics`' prefix the broker has.
private func deliverTopics(_ admin: KafkaAdmin, _ topics: Topics) async throws -> Set<String> {
    Set(try await admin.topicNames(prefix: "", timeout: .seconds(10)).filter { $0.hasPrefix(topics.deliver(edge: "")) })
}
