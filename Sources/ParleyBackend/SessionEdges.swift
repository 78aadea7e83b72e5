import ParleyProtocol
import ParleyRedis

/// Where users are online: the edges that hold their sessions, from presence-svc's
/// `presence:{user}` hashes (session → edge). For services that address a user's sessions
/// directly (relay-svc: typing, and the watches a block ends).
public enum SessionEdges {
    /// The edges each of `users` has sessions on, sorted; users without sessions are left out.
    /// One pipeline (one key per user, each on its own slot).
    public static func of(_ users: Set<String>, on redis: RedisClient) async throws -> [String: [String]] {
        guard !users.isEmpty else { return [:] }
        var pipeline = RedisPipeline()
        let calls = users.map { ($0, pipeline.add(.hgetall(RedisKeys.presence($0)))) }
        let replies = try await redis.send(pipeline)
        var edges: [String: [String]] = [:]
        for (user, call) in calls {
            let userEdges = Set(try replies[call].values.filter(Identifier.isValid))
            if !userEdges.isEmpty { edges[user] = userEdges.sorted() }
        }
        return edges
    }
}
