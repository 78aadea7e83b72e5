import Logging
import Metrics
import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

/// Applies presence events to Redis and publishes what changed. Owns `presence:{user}`,
/// `lastseen:{user}`, `edgesessions:{edge}` and `edges`; ``PresenceWrites`` says how a session is
/// written, ``PresenceQuery`` who may watch whom.
public struct PresenceStore: Sendable {
    let topics: Topics
    let redis: RedisClient
    let producer: KafkaProducer
    let logger: Logger
    /// Sessions one user may hold across all edges (``UserSessionCap``).
    let maxUserSessions: Int

    private let sessions: Gauge
    private let edgesRemoved: Counter
    private let malformed: DroppedRecords

    /// `metrics` makes the store's metrics (tests pass their own).
    public init(topics: Topics, redis: RedisClient, producer: KafkaProducer, logger: Logger,
                maxUserSessions: Int = PresenceConfiguration.defaultMaxUserSessions, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.maxUserSessions = maxUserSessions
        self.topics = topics
        self.redis = redis
        self.producer = producer
        self.logger = logger
        sessions = Gauge(label: "parley_presence_sessions", factory: metrics)
        edgesRemoved = Counter(label: "parley_edges_expired_total", factory: metrics)
        malformed = DroppedRecords(service: "presence-svc", logger: logger, metrics: metrics)
    }

    /// Handles a batch of `presence.events` records in order: one Redis round trip for the batch,
    /// plus one for each edge_started or edge_stopped (whose sessions must be read first), plus
    /// one for the group checks of the batch's queries when they need any.
    public func apply(_ records: [KafkaRecord]) async throws {
        var outcome = PresenceOutcome()
        var round = PresenceRound(topics: topics)
        for record in records {
            let event: PresenceEvent
            do {
                event = try Envelope.decode(PresenceEvent.self, from: record.value)
            } catch {
                malformed.drop(record, error)
                continue
            }
            switch event.kind {
            case .connect:
                guard let user = event.user, let session = event.session else { continue }
                round.connect(user: user, session: session, edge: event.edge, maxSessions: maxUserSessions)
            case .disconnect:
                guard let user = event.user, let session = event.session else { continue }
                round.disconnect(user: user, session: session, edge: event.edge, at: event.ts)
            case .heartbeat:
                round.heartbeat(edge: event.edge)
            case .edgeStarted, .edgeStopped:
                let index = round.index(of: event.edge)
                let replies = try await round.run(on: redis, into: &outcome)
                round = PresenceRound(topics: topics)
                round.removeEdge(event.edge, index: try replies[index], at: event.ts)
                if event.kind == .edgeStarted { round.markAlive(event.edge) }
            case .query:
                guard let user = event.user, let session = event.session, let users = event.users else { continue }
                round.query(users: users, edge: event.edge, user: user, session: session)
            }
        }
        try await round.run(on: redis, into: &outcome)
        let answers = try await PresenceQueries.answer(outcome.queries, on: redis)
        let outputs = outcome.changes + answers.records(topics) + outcome.replaced.records(topics)
        if !outputs.isEmpty { _ = try await producer.send(batch: outputs) }
        await requestResync(outcome.resyncs, because: "heard from an edge given up for dead, asking it to resync")
    }

    /// In Redis Cluster mode, asks every live edge to resync when the slot map differs from
    /// `known` (what the last pass saw; nil at first, which only records it). A changed map means
    /// a failover (or a resharding): Redis replicates asynchronously, so the writes a failed
    /// primary had not passed on are gone, the presence and stream subscriptions of sessions on
    /// its slots among them. A resync makes every edge report its sessions' presence and
    /// subscribe each session's stream again (both idempotent).
    public func resyncAfterFailover(known: inout String?) async throws {
        guard let map = try await redis.clusterSlotMap(), map != known else { return }
        defer { known = map }
        guard known != nil else { return }
        let edges = try await redis.send(.zrangeWithScores(RedisKeys.edges, 0, -1)).map(\.member)
        logger.warning("the redis cluster's slot map changed", metadata: ["parley.redis.slots": "\(map)"])
        await requestResync(edges, because: "asking an edge to resync after a redis failover")
    }

    /// Asks `edges` to report their sessions again (`reason` is logged for each).
    /// Best effort and not awaited (an edge whose deliver topic is gone must not stall presence):
    /// the producer reports the outcome, which is only logged.
    private func requestResync(_ edges: [String], because reason: String) async {
        for edge in edges {
            logger.warning("\(reason)", metadata: ["parley.edge": "\(edge)"])
            let pending = await producer.enqueue(batch: BatchedRecords.make([DeliverEnvelope(user: "", resync: true)],
                                                                          topic: topics.deliver(edge: edge)))
            pending.onSettled { [logger] result in
                if case .failure(let error) = result {
                    logger.error("resync request failed", metadata: ["parley.edge": "\(edge)", "parley.error": "\(error)"])
                }
            }
        }
    }

    /// One pass of the sweeper: removes the sessions of every edge whose last heartbeat is older
    /// than `timeout` (publishing their offline changes; their users' last seen is that last
    /// heartbeat, the last time their sessions were known to be alive), moves them from `edges`
    /// to `{edges}:retired` (their deliver topics are for ``DeliverTopicReaper``) and sets
    /// `parley_presence_sessions` to the sessions the live edges' indexes hold.
    public func sweep(timeout: Duration, now: UInt64 = UnixTime.nowMilliseconds) async throws {
        let cutoff = heartbeatCutoff(now: now, age: timeout)
        let edges = try await redis.send(.zrangeWithScores(RedisKeys.edges, 0, -1))
        let live = edges.filter { $0.score > cutoff }.map(\.member)
        let dead = edges.filter { $0.score <= cutoff }
        var reads = PresenceRound(topics: topics)
        var counts: [RedisPipeline.Entry<Int>] = []
        for edge in live { counts.append(reads.count(of: edge)) }
        var indexes: [RedisPipeline.Entry<Set<String>>] = []
        for edge in dead { indexes.append(reads.index(of: edge.member)) }
        var outcome = PresenceOutcome()
        let replies = try await reads.run(on: redis, into: &outcome)
        sessions.record(try counts.reduce(0) { total, entry throws(RedisError) in total + (try replies[entry]) })
        guard !dead.isEmpty else { return }

        var removals = PresenceRound(topics: topics)
        for (edge, index) in zip(dead, indexes) {
            logger.warning("edge stopped heartbeating, removing its sessions", metadata: ["parley.edge": "\(edge.member)"])
            removals.removeEdge(edge.member, index: try replies[index], at: UInt64(edge.score))
        }
        try await removals.run(on: redis, into: &outcome)
        if !outcome.changes.isEmpty { _ = try await producer.send(batch: outcome.changes) }
        // Retired before it leaves `edges`: a pass cut short between the two redoes both.
        var retire = RedisPipeline()
        retire.add(.zadd(RedisKeys.retiredEdges, dead))
        retire.add(.zrem(RedisKeys.edges, dead.map(\.member)))
        _ = try await redis.send(retire)
        edgesRemoved.increment(by: dead.count)
    }
}
