import ParleyBackend
import ParleyRedis

/// The cap on one user's sessions across all edges (`--max-user-sessions`). Policy: the newest
/// session always opens and the user's OLDEST sessions beyond the cap are closed, as messengers
/// do when a user signs in on one device too many; a refused newest session would leave the
/// user locked out by sessions they may no longer see (a lost phone, a forgotten tab).
///
/// A connect's step on the user's slot (``PresenceWrites/connect(user:session:edge:maxSessions:at:)``)
/// adds the session to `presence:{user}` and to `sessionorder:{user}` (session → when
/// presence-svc first saw it; a replayed connect keeps that time) and names the oldest sessions
/// beyond the cap, never the connecting one. presence-svc then sends each one's edge a
/// `replaced` deliver envelope; the edge closes the session with 1008 and its disconnect removes
/// it from presence as any other. A replayed connect names the same sessions again, which
/// changes nothing: closing a closed session does nothing.
enum UserSessionCap {
    /// KEYS: presence hash, order zset. ARGV: session, edge, now (unix ms), cap.
    /// Returns `{added, count, {session, edge, ...}}`. An order entry whose session is not in
    /// presence any more is dropped on the way.
    static let addScript = RedisScript(keys: 2, """
        local added = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
        local count = redis.call('HLEN', KEYS[1])
        local over = count - tonumber(ARGV[4])
        local replaced = {}
        if over > 0 then
          for _, session in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
            if over == 0 then break end
            if session ~= ARGV[1] then
              local edge = redis.call('HGET', KEYS[1], session)
              if edge then
                table.insert(replaced, session)
                table.insert(replaced, edge)
                over = over - 1
              else
                redis.call('ZREM', KEYS[2], session)
              end
            end
          end
        end
        return {added, count, replaced}
        """, decode: SessionCount.init)
}

/// A session over its user's cap, and the edge that holds it.
struct ReplacedSession: Sendable, Equatable {
    let session: String
    let edge: String
}
