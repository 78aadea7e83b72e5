import ParleyRedis

/// Where a user's sessions are: session id → edge id, from `presence:{user}`.
public struct UserSessions: Sendable, Equatable {
    public let user: String
    public let sessions: [String: String]

    public init(user: String, sessions: [String: String]) {
        self.user = user
        self.sessions = sessions
    }

    /// Reads `user`'s sessions (HGETALL of `presence:{user}`).
    public static func command(_ user: String) -> RedisCommand<UserSessions> {
        RedisCommand.hgetall(RedisKeys.presence(user)).map { UserSessions(user: user, sessions: $0) }
    }

    /// Edge ids holding at least one session, excluding `except`; sorted for stable output.
    public func edges(excludingSession except: String? = nil) -> [String] {
        Set(sessions.filter { $0.key != except }.map(\.value)).sorted()
    }
}

/// The sessions of several users read in one pipeline: add the reads, send the pipeline, then
/// ``sessions(from:)``. Users without sessions map to an empty ``UserSessions``.
public struct UserSessionsReads: Sendable {
    private var entries: [(user: String, entry: RedisPipeline.Entry<UserSessions>)] = []

    /// Adds a read of each of `users` (duplicates once) to `pipeline`.
    public init(_ users: some Sequence<String>, in pipeline: inout RedisPipeline) {
        for user in Set(users) { entries.append((user, pipeline.add(UserSessions.command(user)))) }
    }

    /// Every user's sessions, from the replies of the pipeline the reads were added to.
    public func sessions(from replies: RedisPipeline.Replies) throws(RedisError) -> [String: UserSessions] {
        var sessions: [String: UserSessions] = [:]
        for (user, entry) in entries { sessions[user] = try replies[entry] }
        return sessions
    }
}
