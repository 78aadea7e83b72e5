import ParleyBackend
import ParleyChat
import ParleyProtocol
import ParleyRedis

/// A `query` event: `session` of `watcher` on `edge` asks for the statuses of `users` (a `watch`).
///
/// Only users who share a conversation with the watcher are answered; anyone else could learn
/// when strangers come and go. Shared means: the watcher itself; a dm peer (the dm is in the
/// watcher's conversation list, offline-svc's `user:{watcher}:convs`); a current member of one of
/// the watcher's groups (relay-svc's `user:{watcher}:groups`, the first ``maxGroups`` of it in
/// byte order, and each group's members hash). A block in either direction (the dm's
/// `blocks`, relay-svc's) refuses the user whatever they share: a blocked user does not see the
/// blocker come and go, and the blocker does not watch whom they blocked. These keys are read,
/// never written. A watch allowed before a block is ended by relay-svc when it applies the block
/// (``DeliverEnvelope/unwatch``).
///
/// The reads take two pipelines: the first (the ``PresenceRound``'s) reads every asked user's
/// status, last seen and dm, and the watcher's groups; the second (one for all queries of a
/// batch, ``PresenceQueries/answer(_:on:)``) reads the group memberships of the users the first
/// did not allow.
struct PresenceQuery {
    /// Most groups of the watcher that are looked into; a user sharing only a later group is refused.
    static let maxGroups = 100

    private struct Asked {
        let user: String
        let sessions: RedisPipeline.Entry<Int>
        let lastSeen: RedisPipeline.Entry<String?>
        /// The dm's score in the watcher's conversation list; nil for the watcher itself.
        let direct: RedisPipeline.Entry<Double?>?
        /// Who blocks whom in the dm; nil for the watcher itself.
        let blocks: RedisPipeline.Entry<Set<String>>?
    }

    let edge: String
    let watcher: String
    let session: String
    private let asked: [Asked]
    private let groups: RedisPipeline.Entry<Set<String>>

    /// Adds the first reads of the query to `pipeline` (each asked user once, in asked order).
    init(users: [String], edge: String, watcher: String, session: String, pipeline: inout RedisPipeline) {
        self.edge = edge
        self.watcher = watcher
        self.session = session
        var seen: Set<String> = []
        var asked: [Asked] = []
        for user in users where seen.insert(user).inserted {
            let dm = Conversation.direct(watcher, user)
            let direct = user == watcher ? nil : pipeline.add(.zscore(RedisKeys.StreamKeys(watcher).conversations, dm))
            let blocks = user == watcher ? nil : pipeline.add(.smembers(RedisKeys.ConversationKeys(dm).blocks))
            asked.append(Asked(user: user, sessions: pipeline.add(.hlen(RedisKeys.presence(user))),
                               lastSeen: pipeline.add(.get(RedisKeys.lastSeen(user))), direct: direct, blocks: blocks))
        }
        self.asked = asked
        groups = pipeline.add(.smembers(RedisKeys.groups(watcher)))
    }

    /// What the first reads found.
    func read(_ replies: RedisPipeline.Replies) throws(RedisError) -> PresenceQueryAnswer {
        var statuses: [PresenceStatus] = []
        var allowed: Set<String> = []
        var blocked: Set<String> = []
        for user in asked {
            let online = try replies[user.sessions] > 0
            let lastSeen = online ? nil : try replies[user.lastSeen].flatMap { UInt64($0) }
            statuses.append(PresenceStatus(user: user.user, status: online ? .online : .offline, lastSeen: lastSeen))
            if let blocks = user.blocks, try !replies[blocks].isEmpty {
                blocked.insert(user.user)
                continue
            }
            var shared = true
            if let direct = user.direct { shared = try replies[direct] != nil }
            if shared { allowed.insert(user.user) }
        }
        let groups = Array(try replies[groups].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.prefix(Self.maxGroups))
        return PresenceQueryAnswer(edge: edge, watcher: watcher, session: session, statuses: statuses, allowed: allowed,
                                   blocked: blocked, groups: groups)
    }
}

/// A query after its first reads: every asked user's status, those allowed so far, and the
/// watcher's groups that may allow the others.
struct PresenceQueryAnswer {
    let edge: String
    let watcher: String
    let session: String
    /// Every asked user's status, in asked order (only the allowed ones are answered).
    let statuses: [PresenceStatus]
    private(set) var allowed: Set<String>
    /// Users a block between them and the watcher refuses, whatever they share.
    let blocked: Set<String>
    let groups: [String]

    init(edge: String, watcher: String, session: String, statuses: [PresenceStatus], allowed: Set<String>, blocked: Set<String> = [],
         groups: [String]) {
        self.edge = edge
        self.watcher = watcher
        self.session = session
        self.statuses = statuses
        self.allowed = allowed
        self.blocked = blocked
        self.groups = groups
    }

    /// The asked users neither allowed nor blocked yet, in asked order.
    var undecided: [String] { statuses.map(\.user).filter { !allowed.contains($0) && !blocked.contains($0) } }

    /// Allows the users of `undecided` whose `records` (a group's members hash values, in the
    /// same order) say they are current members of that group.
    mutating func allow(_ undecided: [String], records: [GroupMemberRecord?]) {
        for (user, record) in zip(undecided, records) where record?.isMember == true { allowed.insert(user) }
    }

    /// The answer for the asking session: the allowed users' statuses and names (`watch`), and a
    /// `forbidden` error when some were refused.
    var envelope: DeliverEnvelope {
        let answered = statuses.filter { allowed.contains($0.user) }
        let refused = statuses.count - answered.count
        let error = refused == 0 ? nil
            : ProtocolError(.forbidden, "not allowed to watch \(refused) user\(refused == 1 ? "" : "s"): no shared conversation")
        return DeliverEnvelope(user: watcher, sessions: [session], error: error, presence: answered, watch: answered.map(\.user))
    }
}

/// The group checks of a batch's queries in one pipeline, and their answers.
enum PresenceQueries {
    /// Decides the users the first reads left undecided (one round trip for all of `queries`,
    /// none when no query needs one) and returns the answers, per asking edge.
    static func answer(_ queries: [PresenceQueryAnswer], on redis: RedisClient) async throws -> EdgeDeliveries {
        var queries = queries
        var pipeline = RedisPipeline()
        var checks: [(query: Int, users: [String], records: RedisPipeline.Entry<[GroupMemberRecord?]>)] = []
        for (index, query) in queries.enumerated() {
            let undecided = query.undecided
            guard !undecided.isEmpty else { continue }
            for group in query.groups {
                checks.append((index, undecided, pipeline.add(GroupCommands.members(undecided, of: group))))
            }
        }
        if !pipeline.isEmpty {
            let replies = try await redis.send(pipeline)
            for check in checks { queries[check.query].allow(check.users, records: try replies[check.records]) }
        }
        var deliveries = EdgeDeliveries()
        for query in queries { deliveries.add(query.envelope, edge: query.edge) }
        return deliveries
    }
}
