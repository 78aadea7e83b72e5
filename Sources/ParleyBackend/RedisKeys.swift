/// Redis key names. Per-user keys carry the user id as a hash tag (`{alice}`) so one user's
/// keys share a Redis Cluster slot; each key has one owning service that writes it.
public enum RedisKeys {
    /// HASH session → edge id. Owner: presence-svc. Read by relay-svc and offline-svc.
    public static func presence(_ user: String) -> String { "presence:{\(user)}" }
    /// SET of `user<TAB>session` on one edge. Owner: presence-svc.
    public static func edgeSessions(_ edge: String) -> String { "edgesessions:{\(edge)}" }
    /// ZSET edge id → last heartbeat (unix ms). Owner: presence-svc.
    public static let edges = "edges"
    /// ZSET of pending message ids (all scores 0, so members sort by id = time). Owner: offline-svc.
    public static func inbox(_ user: String) -> String { "inbox:{\(user)}" }
    /// HASH message id → ChatMessage JSON, beside ``inbox(_:)``. Owner: offline-svc.
    public static func inboxMessages(_ user: String) -> String { "inboxmsg:{\(user)}" }
    /// STRING message id of a (sender, client id) pair. Owner: relay-svc.
    public static func dedup(_ user: String, clientID: String) -> String { "dedup:{\(user)}:\(clientID)" }
}
