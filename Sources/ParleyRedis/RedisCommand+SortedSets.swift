// Typed sorted-set commands.

/// A sorted-set member with its score.
public struct RedisScoredMember: Sendable, Equatable {
    public let member: String
    public let score: Double

    public init(member: String, score: Double) {
        self.member = member
        self.score = score
    }
}

extension RedisCommand where Reply == Int {
    /// ZADD: adds members with scores (or updates their scores); returns how many were new.
    public static func zadd(_ key: String, _ members: [RedisScoredMember]) -> Self {
        Self(["ZADD", RedisArgument(key)] + members.flatMap { [RedisArgument($0.score), RedisArgument($0.member)] },
             keys: [key]) { reply throws(RedisError) in try reply.asInteger() }
    }

    /// ZREM: how many of the members existed and were removed.
    public static func zrem(_ key: String, _ members: [String]) -> Self {
        Self(["ZREM", RedisArgument(key)] + members.map { RedisArgument($0) }, keys: [key]) { reply throws(RedisError) in
            try reply.asInteger()
        }
    }

    /// ZCARD: the number of members (0 for a missing key).
    public static func zcard(_ key: String) -> Self {
        Self(["ZCARD", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in try reply.asInteger() }
    }
}

extension RedisCommand where Reply == [String] {
    /// ZRANGE by rank, inclusive; negative ranks count from the end (`0, -1` is everything).
    public static func zrange(_ key: String, _ start: Int, _ stop: Int) -> Self {
        Self(["ZRANGE", RedisArgument(key), RedisArgument(start), RedisArgument(stop)], keys: [key]) { reply throws(RedisError) in
            try reply.asStrings()
        }
    }
}

extension RedisCommand where Reply == [RedisScoredMember] {
    /// ZRANGE … WITHSCORES by rank, inclusive: members with their scores, lowest score first.
    public static func zrangeWithScores(_ key: String, _ start: Int, _ stop: Int) -> Self {
        Self(["ZRANGE", RedisArgument(key), RedisArgument(start), RedisArgument(stop), "WITHSCORES"], keys: [key]) { reply throws(RedisError) in
            let items = try reply.asArray()
            guard items.count % 2 == 0 else {
                throw RedisError(code: .protocol, message: "ZRANGE WITHSCORES returned \(items.count) items, not member-score pairs")
            }
            var members: [RedisScoredMember] = []
            for index in stride(from: 0, to: items.count, by: 2) {
                guard let member = try items[index].asString(), let score = try items[index + 1].asDouble() else {
                    throw RedisError(code: .protocol, message: "ZRANGE WITHSCORES returned a null member or score")
                }
                members.append(RedisScoredMember(member: member, score: score))
            }
            return members
        }
    }
}

extension RedisCommand where Reply == Double? {
    /// ZSCORE: the member's score, nil if the key or member does not exist.
    public static func zscore(_ key: String, _ member: String) -> Self {
        Self(["ZSCORE", RedisArgument(key), RedisArgument(member)], keys: [key]) { reply throws(RedisError) in try reply.asDouble() }
    }
}
