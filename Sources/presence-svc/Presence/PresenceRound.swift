import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// The Redis work of consecutive presence events as one pipeline (one round trip), in event
/// order, and what each event publishes once the replies are in. A pipeline runs the commands of
/// one slot in order, so one user's and one edge's events keep their order; each event's second
/// step is added `after` its first, so in Redis Cluster the order ``PresenceWrites`` needs holds
/// across the two slots too (two round trips there when they are on two nodes).
struct PresenceRound {
    private let topics: Topics
    private var pipeline = RedisPipeline()
    private var effects: [Effect] = []

    private enum Effect {
        /// A session step on the user's slot; publishes a change if it changed presence. `lastSeen`
        /// is what a removal stores as the user's last seen if it removes the last session.
        case session(PresenceChange.Kind, user: String, session: String, edge: String, RedisPipeline.Entry<SessionCount>,
                     lastSeen: UInt64?)
        /// A heartbeat: an edge that was not in `edges` (given up for dead) is asked to resync.
        case heartbeat(edge: String, RedisPipeline.Entry<Int>)
        /// A query's first reads (answered once its group checks are in).
        case query(PresenceQuery)
    }

    init(topics: Topics) { self.topics = topics }

    /// Both steps of a connect, in the order ``PresenceWrites`` explains; the user's oldest
    /// sessions beyond `maxSessions` are closed (``UserSessionCap``).
    mutating func connect(user: String, session: String, edge: String, maxSessions: Int) {
        let steps = PresenceWrites.connect(user: user, session: session, edge: edge, maxSessions: maxSessions)
        let added = pipeline.add(steps.second, after: pipeline.add(steps.first))
        effects.append(.session(.sessionOnline, user: user, session: session, edge: edge, added, lastSeen: nil))
    }

    /// Both steps of a disconnect, in the order ``PresenceWrites`` explains; `at` (unix ms, when
    /// the session ended) becomes the user's last seen if it was the last session.
    mutating func disconnect(user: String, session: String, edge: String, at: UInt64) {
        let steps = PresenceWrites.disconnect(user: user, session: session, edge: edge, lastSeen: at)
        let removed = pipeline.add(steps.first)
        pipeline.add(steps.second, after: removed)
        effects.append(.session(.sessionOffline, user: user, session: session, edge: edge, removed, lastSeen: at))
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

    /// The first reads of `user`'s query for `users` (``PresenceQuery``).
    mutating func query(users: [String], edge: String, user: String, session: String) {
        effects.append(.query(PresenceQuery(users: users, edge: edge, watcher: user, session: session, pipeline: &pipeline)))
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
    /// deletes the index: a disconnect's steps, the second one for all sessions at once. `at`
    /// (unix ms) is the last seen of the users who lose their last session.
    mutating func removeEdge(_ edge: String, index: Set<String>, at: UInt64) {
        var removals: [RedisPipeline.Entry<SessionCount>] = []
        for entry in index.sorted() {
            guard let (user, session) = PresenceWrites.parse(member: entry) else { continue }
            let removed = pipeline.add(PresenceWrites.disconnect(user: user, session: session, edge: edge, lastSeen: at).first)
            removals.append(removed)
            effects.append(.session(.sessionOffline, user: user, session: session, edge: edge, removed, lastSeen: at))
        }
        pipeline.add(.del([RedisKeys.edgeSessions(edge)]), after: removals)
    }

    /// Sends the pipeline and adds what its events publish to `outcome`; returns the replies for
    /// the reads a next round depends on.
    @discardableResult
    func run(on redis: RedisClient, into outcome: inout PresenceOutcome) async throws -> RedisPipeline.Replies {
        let replies = try await redis.send(pipeline)
        for effect in effects {
            switch effect {
            case let .session(kind, user, session, edge, entry, lastSeen):
                let count = try replies[entry]
                for old in count.replaced {
                    outcome.replaced.add(DeliverEnvelope(user: user, sessions: [old.session], replaced: true), edge: old.edge)
                }
                // A replayed connect changes nothing but is published again (the edge may
                // depend on it); a disconnect of a session presence did not have is not.
                guard kind == .sessionOnline || count.changed else { continue }
                let transition = count.changed && (kind == .sessionOnline ? count.remaining == 1 : count.remaining == 0)
                let change = PresenceChange(kind: kind, user: user, session: session, edge: edge,
                                            status: count.remaining > 0 ? .online : .offline, transition: transition,
                                            lastSeen: transition ? lastSeen : nil)
                outcome.changes.append(KafkaOutgoingRecord(topic: topics.presenceChanges, key: Array(user.utf8),
                                                           value: Envelope.encode(change)))
            case let .heartbeat(edge, entry):
                if try replies[entry] == 1 { outcome.resyncs.append(edge) }
            case let .query(query):
                outcome.queries.append(try query.read(replies))
            }
        }
        return replies
    }
}

/// What a batch of presence events publishes: changes in event order, queries to answer, the
/// sessions to close for their user's cap, and the edges to ask for a resync.
struct PresenceOutcome {
    var changes: [KafkaOutgoingRecord] = []
    var replaced = EdgeDeliveries()
    var queries: [PresenceQueryAnswer] = []
    var resyncs: [String] = []
}
