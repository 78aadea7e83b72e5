// Typed set commands.

extension RedisCommand where Reply == Int {
    /// SADD: how many of the members were new.
    public static func sadd(_ key: String, _ members: [String]) -> Self {
        Self(["SADD", RedisArgument(key)] + members.map { RedisArgument($0) }, keys: [key]) { reply throws(RedisError) in
            try reply.asInteger()
        }
    }

    /// SREM: how many of the members existed and were removed.
    public static func srem(_ key: String, _ members: [String]) -> Self {
        Self(["SREM", RedisArgument(key)] + members.map { RedisArgument($0) }, keys: [key]) { reply throws(RedisError) in
            try reply.asInteger()
        }
    }

    /// SCARD: the number of members (0 for a missing key).
    public static func scard(_ key: String) -> Self {
        Self(["SCARD", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in try reply.asInteger() }
    }
}

extension RedisCommand where Reply == Set<String> {
    /// SMEMBERS: every member (empty for a missing key).
    public static func smembers(_ key: String) -> Self {
        Self(["SMEMBERS", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in Set(try reply.asStrings()) }
    }
}
