import ParleyBackend
import ParleyRedis

/// The groups each user is a member of (`RedisKeys.groups(user)`, on the user's slot), kept
/// after the conversation steps to bound `--max-groups-per-user`. The bound is soft: two
/// batches (of two partitions) may each add a user one below the limit to another group.
struct GroupIndex: Sendable {
    let redis: RedisClient
    let maxGroupsPerUser: Int

    /// Which of `users` are in `--max-groups-per-user` groups already (one pipeline).
    func atLimit(_ users: Set<String>) async throws -> Set<String> {
        guard !users.isEmpty else { return [] }
        var pipeline = RedisPipeline()
        let counts = users.map { user in (user, pipeline.add(.scard(RedisKeys.groups(user)))) }
        let replies = try await redis.send(pipeline)
        var full: Set<String> = []
        for (user, count) in counts where try replies[count] >= maxGroupsPerUser { full.insert(user) }
        return full
    }

    /// Adds or removes the group of each membership as it is now (idempotent, so a replay
    /// writes the same); one pipeline.
    func update(_ memberships: [GroupMembership]) async throws {
        guard !memberships.isEmpty else { return }
        var pipeline = RedisPipeline()
        for membership in memberships {
            let key = RedisKeys.groups(membership.user)
            _ = pipeline.add(membership.isMember ? .sadd(key, [membership.conv]) : .srem(key, [membership.conv]))
        }
        _ = try await redis.send(pipeline)
    }
}

/// Whether `user` is a member of the group `conv` after a batch's conversation steps.
struct GroupMembership: Sendable, Hashable {
    let conv: String
    let user: String
    let isMember: Bool
}
