import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// presence-svc's Redis steps. Each is atomic on ONE Redis Cluster slot, so a session's connect
/// or disconnect is two steps: one on its user's slot (`presence:{user}`, a script) and one on
/// its edge's slot (`edgesessions:{edge}`, a single command). No step spans both slots.
///
/// The order keeps one invariant, so a crash between the two steps leaves nothing that is not
/// repaired: **the edge index holds every session that presence holds** (it may hold more).
/// A connect indexes the session on its edge first and adds it to presence second; a disconnect
/// removes it from presence first and unindexes it second. A crash between the two steps thus
/// leaves an index entry that presence does not have; the user's presence is what it was before
/// the event. The event is handled again (its batch was not committed) and completes; and when
/// that edge is removed (edge_started, edge_stopped, the sweeper) the entry is found, its removal
/// from presence changes nothing and publishes nothing, and the index is deleted. The other order
/// would leave a session in presence that no index names: if its edge then died, the sweeper
/// could not find it, and the user would stay online forever.
enum PresenceWrites {
    /// A connect: index the session on its edge (edge slot), then add it to presence (user slot).
    /// The second step also finds the user's oldest sessions beyond `maxSessions` (``UserSessionCap``).
    static func connect(user: String, session: String, edge: String, maxSessions: Int,
                        at now: UInt64 = UnixTime.nowMilliseconds) -> (first: RedisCommand<Int>, second: RedisCommand<SessionCount>) {
        (.sadd(RedisKeys.edgeSessions(edge), [member(user: user, session: session)]),
         UserSessionCap.addScript.call(keys: [RedisKeys.presence(user), RedisKeys.sessionOrder(user)],
                                       arguments: [RedisArgument(session), RedisArgument(edge), RedisArgument(String(now)),
                                                   RedisArgument(String(maxSessions))]))
    }

    /// A disconnect: remove the session from presence (user slot), then from its edge's index (edge
    /// slot). When it was the user's last session, the first step also stores `lastSeen` (unix ms)
    /// in `lastseen:{user}` (same slot), so last seen is written exactly when the user goes offline.
    static func disconnect(user: String, session: String, edge: String, lastSeen: UInt64)
        -> (first: RedisCommand<SessionCount>, second: RedisCommand<Int>) {
        (removeScript.call(keys: [RedisKeys.presence(user), RedisKeys.lastSeen(user), RedisKeys.sessionOrder(user)],
                           arguments: [RedisArgument(session), RedisArgument(String(lastSeen))]),
         .srem(RedisKeys.edgeSessions(edge), [member(user: user, session: session)]))
    }

    /// An edge index entry: `user<TAB>session`.
    static func member(user: String, session: String) -> String { "\(user)\t\(session)" }

    /// The user and session of an index entry; nil for anything else.
    static func parse(member: String) -> (user: String, session: String)? {
        let parts = member.split(separator: "\t", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    private static let removeScript = RedisScript(keys: 3, """
        local removed = redis.call('HDEL', KEYS[1], ARGV[1])
        local remaining = redis.call('HLEN', KEYS[1])
        if removed == 1 and remaining == 0 then redis.call('SET', KEYS[2], ARGV[2]) end
        if remaining == 0 then redis.call('DEL', KEYS[3]) else redis.call('ZREM', KEYS[3], ARGV[1]) end
        return {removed, remaining}
        """, decode: SessionCount.init)
}

/// What a presence step did to a user: whether it added (or removed) the session, how many
/// sessions the user has afterwards, and (a connect) which of them are over the user's cap, read
/// in the same atomic step.
struct SessionCount: Sendable, Equatable {
    let changed: Bool
    let remaining: Int
    /// The oldest sessions beyond `--max-user-sessions`, to be closed, with their edges.
    let replaced: [ReplacedSession]

    init(changed: Bool, remaining: Int, replaced: [ReplacedSession] = []) {
        self.changed = changed
        self.remaining = remaining
        self.replaced = replaced
    }

    /// The scripts' reply `{changed (0/1), remaining}`, a connect's with `{session, edge, ...}` third.
    init(reply: RESPValue) throws(RedisError) {
        let values = try reply.asArray()
        guard values.count == 2 || values.count == 3 else {
            throw RedisError(code: .protocol, message: "expected {changed, remaining[, replaced]}, got \(reply)")
        }
        var replaced: [ReplacedSession] = []
        if values.count == 3 {
            let pairs = try values[2].asStrings()
            for index in stride(from: 0, to: pairs.count - 1, by: 2) {
                replaced.append(ReplacedSession(session: pairs[index], edge: pairs[index + 1]))
            }
        }
        self.init(changed: try values[0].asInteger() == 1, remaining: try values[1].asInteger(), replaced: replaced)
    }
}
