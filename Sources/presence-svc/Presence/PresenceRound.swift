import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// The Redis work of consecutive presence events as one pipeline (one round trip), in event
/// order, and what each event publishes once the replies are in. A pipeline runs its commands in
/// order on one connection, so one user's and one edge's events keep their order.
struct PresenceRound {
    private let topics: Topics
    private var pipeline = RedisPipeline()
    private var effects: [Effect] = []

    private enum Effect {
        /// A session step on the user's slot; publishes a change if it changed presence.
        case session(PresenceChange.Kind, user: String, session: String, edge: String, RedisPipeline.Entry<SessionCount>)
        /// A heartbeat: an edge that was not in `edges` (given up for dead) is asked to resync.
        case heartbeat(edge: String, RedisPipeline.Entry<Int>)
        /// A query: the users' session counts, answered on the asking edge's deliver topic.
        case query(edge: String, user: String, session: String, [(user: String, count: RedisPipeline.Entry<Int>)])
    }

    init(topics: Topics) { self.topics = topics }

    /// Both steps of a connect, in the order ``PresenceWrites`` explains.
    mutating func connect(user: String, session: String, edge: String) {
        let steps = PresenceWrites.connect(user: user, session: session, edge: edge)
        pipeline.add(steps.first)
        let added = pipeline.add(steps.second)
        effects.append(.session(.sessionOnline, user: user, session: session, edge: edge, added))
    }

    /// Both steps of a disconnect, in the order ``PresenceWrites`` explains.
    mutating func disconnect(user: String, session: String, edge: String) {
        let steps = PresenceWrites.disconnect(user: user, session: session, edge: edge)
        let removed = pipeline.add(steps.first)
        pipeline.add(steps.second)
        effects.append(.session(.sessionOffline, user: user, session: session, edge: edge, removed))
    }

    /// Records that presence-svc heard from `edge` now. Liveness is when this service heard from
    /// the edge, not the edge's clock: a heartbeat delayed in the broker must not make a live
    /// edge look dead.
    mutating func heartbeat(edge: String) {
        effects.append(.heartbeat(edge: edge, markAlive(edge)))
    }

    /// Adds `edge` to `edges` as heard from now (ZADD answers 1 when it was not there).
    @discardableResult
    mutating func markAlive(_ edge: String) -> RedisPipeline.Entry<Int> {
        pipeline.add(.zadd(RedisKeys.edges, [RedisScoredMember(member: edge, score: Double(UnixTime.nowMilliseconds))]))
    }

    /// The sessions `users` have, for the session that asked.
    mutating func query(users: [String], edge: String, user: String, session: String) {
        var counts: [(user: String, count: RedisPipeline.Entry<Int>)] = []
        for asked in users { counts.append((asked, pipeline.add(.hlen(RedisKeys.presence(asked))))) }
        effects.append(.query(edge: edge, user: user, session: session, counts))
    }

    /// Reads `edge`'s index, to remove its sessions in a later round (reading and removing
    /// cannot share a round: the removals depend on what is read).
    mutating func index(of edge: String) -> RedisPipeline.Entry<Set<String>> {
        pipeline.add(.smembers(RedisKeys.edgeSessions(edge)))
    }

    /// How many sessions `edge`'s index holds.
    mutating func count(of edge: String) -> RedisPipeline.Entry<Int> {
        pipeline.add(.scard(RedisKeys.edgeSessions(edge)))
    }

    /// Disconnects every session of `index` (what ``index(of:)`` read) from presence, then
    /// deletes the index: a disconnect's steps, the second one for all sessions at once.
    mutating func removeEdge(_ edge: String, index: Set<String>) {
        for entry in index.sorted() {
            guard let (user, session) = PresenceWrites.parse(member: entry) else { continue }
            let removed = pipeline.add(PresenceWrites.disconnect(user: user, session: session, edge: edge).first)
            effects.append(.session(.sessionOffline, user: user, session: session, edge: edge, removed))
        }
        pipeline.add(.del([RedisKeys.edgeSessions(edge)]))
    }

    /// Sends the pipeline and adds what its events publish to `outcome`; returns the replies for
    /// the reads a next round depends on.
    @discardableResult
    func run(on redis: RedisClient, into outcome: inout PresenceOutcome) async throws -> RedisPipeline.Replies {
        let replies = try await redis.send(pipeline)
        for effect in effects {
            switch effect {
            case let .session(kind, user, session, edge, entry):
                let count = try replies[entry]
                // A replayed connect changes nothing but is published again (the edge may
                // depend on it); a disconnect of a session presence did not have is not.
                guard kind == .sessionOnline || count.changed else { continue }
                let transition = count.changed && (kind == .sessionOnline ? count.remaining == 1 : count.remaining == 0)
                let change = PresenceChange(kind: kind, user: user, session: session, edge: edge,
                                            status: count.remaining > 0 ? .online : .offline, transition: transition)
                outcome.changes.append(KafkaOutgoingRecord(topic: topics.presenceChanges, key: Array(user.utf8),
                                                           value: Envelope.encode(change)))
            case let .heartbeat(edge, entry):
                if try replies[entry] == 1 { outcome.resyncs.append(edge) }
            case let .query(edge, user, session, counts):
                var statuses: [PresenceStatus] = []
                for (asked, entry) in counts {
                    statuses.append(PresenceStatus(user: asked, status: try replies[entry] > 0 ? .online : .offline))
                }
                outcome.queries.add(DeliverEnvelope(user: user, sessions: [session], presence: statuses), edge: edge)
            }
        }
        return replies
    }
}

/// What a batch of presence events publishes: changes in event order, query answers, and the
/// edges to ask for a resync.
struct PresenceOutcome {
    var changes: [KafkaOutgoingRecord] = []
    var queries = EdgeDeliveries()
    var resyncs: [String] = []
}
