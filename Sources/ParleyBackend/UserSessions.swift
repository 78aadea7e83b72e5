import ParleyRedis

/// Where a user's sessions are: session id → edge id, from `presence:{user}`.
public struct UserSessions: Sendable, Equatable {
    public let user: String
    public let sessions: [String: String]

    public init(user: String, sessions: [String: String]) {
        self.user = user
        self.sessions = sessions
    }

    /// Reads an HGETALL reply.
    public init(user: String, reply: RESPValue) {
        var sessions: [String: String] = [:]
        if let items = reply.array {
            var index = 0
            while index + 1 < items.count {
                if let session = items[index].string, let edge = items[index + 1].string { sessions[session] = edge }
                index += 2
            }
        }
        self.init(user: user, sessions: sessions)
    }

    /// The HGETALL command for `user`'s sessions.
    public static func command(_ user: String) -> RedisCommand { ["HGETALL", .init(RedisKeys.presence(user))] }

    /// Edge ids holding at least one session, excluding `except`; sorted for stable output.
    public func edges(excludingSession except: String? = nil) -> [String] {
        Set(sessions.filter { $0.key != except }.map(\.value)).sorted()
    }
}
