import Logging
import Metrics
import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// Deletes the deliver topic of every edge the sweeper retired more than `grace` ago (by its last
/// heartbeat), so that edge ids that never come back (every rollout brings new ones) do not leave
/// a topic each behind. An edge heard from again is in `edges` and keeps its topic.
///
/// `grace` defaults to the deliver topics' retention: by then every record an edge could still
/// read is gone anyway. An edge id that starts again later creates its topic again at start.
public struct DeliverTopicReaper: Sendable {
    let topics: Topics
    let redis: RedisClient
    let admin: KafkaAdmin
    let grace: Duration
    let logger: Logger
    private let deleted: Counter

    /// `metrics` makes the reaper's counter (tests pass their own).
    public init(topics: Topics, redis: RedisClient, admin: KafkaAdmin, grace: Duration, logger: Logger,
                metrics: any MetricsFactory = MetricsSystem.factory) {
        self.topics = topics
        self.redis = redis
        self.admin = admin
        self.grace = grace
        self.logger = logger
        deleted = Counter(label: "parley_deliver_topics_deleted_total", factory: metrics)
    }

    /// One pass: deletes the deliver topics of the edges retired before `now - grace` that are
    /// not live again, then forgets those edges. Returns the edges whose topics it deleted.
    /// Idempotent: a pass cut short is redone by the next (deleting a missing topic succeeds).
    @discardableResult
    public func reap(now: UInt64 = UnixTime.nowMilliseconds) async throws -> [String] {
        let cutoff = heartbeatCutoff(now: now, age: grace)
        let due = try await redis.send(.zrangeWithScores(RedisKeys.retiredEdges, 0, -1))
            .filter { $0.score <= cutoff }.map(\.member)
        guard !due.isEmpty else { return [] }
        var reads = RedisPipeline()
        let heartbeats = due.map { reads.add(.zscore(RedisKeys.edges, $0)) }
        let replies = try await redis.send(reads)
        var gone: [String] = []
        for (edge, heartbeat) in zip(due, heartbeats) {
            if try replies[heartbeat] == nil { gone.append(edge) }
        }

        try await admin.deleteTopics(gone.map { topics.deliver(edge: $0) }, timeout: .seconds(30))
        _ = try await redis.send(.zrem(RedisKeys.retiredEdges, due))
        for edge in gone {
            logger.info("deleted the deliver topic of a retired edge", metadata: ["parley.edge": "\(edge)"])
        }
        deleted.increment(by: gone.count)
        return gone
    }
}
