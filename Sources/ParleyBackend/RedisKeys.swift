/// Redis key names. Per-user keys carry the user id as a hash tag (`{alice}`), per-conversation
/// keys the conversation id (`{dm:alice:bob}`), so each atomic step touches one Redis Cluster
/// slot; each key has one owning service that writes it.
public enum RedisKeys {
    /// HASH session → edge id. Owner: presence-svc.
    public static func presence(_ user: String) -> String { "presence:{\(user)}" }
    /// ZSET session → when presence-svc saw it connect (unix ms): who is oldest when a user holds
    /// more than `--max-user-sessions`. Owner: presence-svc.
    public static func sessionOrder(_ user: String) -> String { "sessionorder:{\(user)}" }
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
        /// `title`, `by` (creator) and `count` (current members); for a dm `s:<user>` once that user
        /// sent a message: how many it sent while the other had not replied (message requests).
        public var meta: String { "conv:{\(conv)}:meta" }
        /// HASH user → ``GroupMemberRecord`` (role and membership intervals) of a group.
        public var members: String { "conv:{\(conv)}:members" }
        /// HASH user → read cseq: the members' read cursors, mirrored for `members`.
        /// Owner: offline-svc (it moves read cursors), the one key of this slot relay-svc does not write.
        public var reads: String { "conv:{\(conv)}:reads" }
        /// SET of the users who block the other user of a direct conversation (a dm's messages
        /// are refused while it has a member).
        public var blocks: String { "conv:{\(conv)}:blocks" }
        /// STRING `<cseq> <msg>` of a (sender, client id) pair: drops client retries.
        public func dedup(from: String, clientID: String) -> String { "conv:{\(conv)}:dd:\(from):\(clientID)" }
    }

    /// SET of the groups `user` is a member of (bounds `--max-groups-per-user`). Owner: relay-svc.
    public static func groups(_ user: String) -> String { "user:{\(user)}:groups" }

    /// HASH of the user's send quota windows: `m`/`mc` the current minute and the deliveries
    /// charged in it, `d`/`dc` the same for the day. Owner: relay-svc.
    public static func sendQuota(_ user: String) -> String { "user:{\(user)}:quota" }

    /// The keys of one user's stream (slot `{user}`). Owner: offline-svc.
    public struct StreamKeys: Sendable {
        public let user: String
        public init(_ user: String) { self.user = user }
        /// STREAM, entry id `<seq>-0`: the user's entries (message bodies stay in the conversation logs).
        public var stream: String { "user:{\(user)}:stream" }
        /// HASH: `e` epoch, `h` head, `f` first retained seq.
        public var meta: String { "user:{\(user)}:meta" }
        /// HASH logical id (`<conv>#<cseq>`, ``messageID(conv:cseq:)``) → seq, for the recent
        /// entries (re-finds a replayed entry).
        public var ids: String { "user:{\(user)}:ids" }
        /// The logical id of a message or membership change in ``ids`` (offline-svc's append
        /// script writes the same).
        public static func messageID(conv: String, cseq: UInt64) -> String { "\(conv)#\(cseq)" }
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
