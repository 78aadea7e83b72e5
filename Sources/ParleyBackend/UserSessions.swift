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
