/// Redis key names. Per-user keys carry the user id as a hash tag (`{alice}`), per-conversation
/// keys the conversation id (`{dm:alice:bob}`), so each atomic step touches one Redis Cluster
/// slot; each key has one owning service that writes it.
public enum RedisKeys {
    /// HASH session → edge id. Owner: presence-svc.
    public static func presence(_ user: String) -> String { "presence:{\(user)}" }
    /// SET of `user<TAB>session` on one edge. Owner: presence-svc.
    public static func edgeSessions(_ edge: String) -> String { "edgesessions:{\(edge)}" }
    /// ZSET edge id → last heartbeat (unix ms). Owner: presence-svc.
    public static let edges = "edges"
    /// ZSET edge id → its last heartbeat (unix ms), for edges the sweeper gave up for dead whose
    /// deliver topic is not deleted yet. In `edges`' Cluster slot (hash tag `{edges}`), so the
    /// sweeper moves an edge from one to the other in one pipeline. Owner: presence-svc.
    public static let retiredEdges = "{edges}:retired"
    /// STRING unix ms when the user's last session ended (written with that session's removal).
    /// Owner: presence-svc.
    public static func lastSeen(_ user: String) -> String { "lastseen:{\(user)}" }

    /// The keys of one conversation (slot `{conv}`). Owner: relay-svc.
    public struct ConversationKeys: Sendable {
        public let conv: String
        public init(_ conv: String) { self.conv = conv }
        /// STREAM, entry id `<cseq>-0`: the conversation log (each message's JSON, once).
        public var log: String { "conv:{\(conv)}:log" }
        /// HASH: `n` the last cseq, `e` the epoch of the conversation's storage; for a group also
        /// `title`, `by` (creator) and `count` (current members).
        public var meta: String { "conv:{\(conv)}:meta" }
        /// HASH user → ``GroupMemberRecord`` (role and membership intervals) of a group.
        public var members: String { "conv:{\(conv)}:members" }
        /// HASH user → read cseq: the members' read cursors, mirrored for `members`.
        /// Owner: offline-svc (it moves read cursors), the one key of this slot relay-svc does not write.
        public var reads: String { "conv:{\(conv)}:reads" }
        /// STRING `<cseq> <msg>` of a (sender, client id) pair: drops client retries.
        public func dedup(from: String, clientID: String) -> String { "conv:{\(conv)}:dd:\(from):\(clientID)" }
    }

    /// SET of the groups `user` is a member of (bounds `--max-groups-per-user`). Owner: relay-svc.
    public static func groups(_ user: String) -> String { "user:{\(user)}:groups" }

    /// The keys of one user's stream (slot `{user}`). Owner: offline-svc.
    public struct StreamKeys: Sendable {
        public let user: String
        public init(_ user: String) { self.user = user }
        /// STREAM, entry id `<seq>-0`: the user's entries (message bodies stay in the conversation logs).
        public var stream: String { "user:{\(user)}:stream" }
        /// HASH: `e` epoch, `h` head, `f` first retained seq.
        public var meta: String { "user:{\(user)}:meta" }
        /// HASH logical id (`<conv>#<cseq>`) → seq, for the recent entries (re-finds a replayed entry).
        public var ids: String { "user:{\(user)}:ids" }
        /// HASH watermark (`<conv>|<status>|<by>`) → cseq of receipts in this stream.
        public var marks: String { "user:{\(user)}:marks" }
        /// HASH conv → `<cseq> <seq>`: the last message of each conversation in this stream.
        public var last: String { "user:{\(user)}:last" }
        /// ZSET conv → seq of its latest entry: the conversation list, newest activity first.
        public var conversations: String { "user:{\(user)}:convs" }
        /// HASH conv → the user's read cseq.
        public var read: String { "user:{\(user)}:read" }
        /// HASH device → cursor (highest contiguous acked seq).
        public var devices: String { "user:{\(user)}:devices" }
        /// HASH session → edge: the sessions subscribed to live entries.
        public var subscriptions: String { "user:{\(user)}:subs" }
    }
}
