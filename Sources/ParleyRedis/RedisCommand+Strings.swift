// Typed commands on keys and string values. Keys are Strings; values have a String and, where
// binary data matters, a [UInt8] variant.

extension RedisCommand where Reply == String? {
    /// GET: the value as text (invalid UTF-8 repaired), nil if the key does not exist.
    public static func get(_ key: String) -> Self {
        Self(["GET", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in try reply.asString() }
    }

    /// SET NX GET with a time to live: stores `value` unless the key exists, and returns the value
    /// the key already had (nil when `value` was stored). One atomic "first writer wins".
    public static func setIfAbsent(_ key: String, _ value: String, expire: Duration) -> Self {
        Self(["SET", RedisArgument(key), RedisArgument(value), "NX", "GET", "PX", RedisArgument(expire.redisMilliseconds)],
             keys: [key]) { reply throws(RedisError) in try reply.asString() }
    }
}

extension RedisCommand where Reply == Bool {
    /// SET, optionally only if the key does not exist (`nx`) and with a time to live (millisecond
    /// precision). False when `nx` is set and the key already existed.
    public static func set(_ key: String, _ value: RedisArgument, nx: Bool = false, expire: Duration? = nil) -> Self {
        var arguments: [RedisArgument] = ["SET", RedisArgument(key), value]
        if nx { arguments.append("NX") }
        if let expire { arguments += ["PX", RedisArgument(expire.redisMilliseconds)] }
        return Self(arguments, keys: [key]) { reply in reply != .null }
    }

    /// EXISTS of one key.
    public static func exists(_ key: String) -> Self {
        Self(["EXISTS", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in try reply.asInteger() == 1 }
    }

    /// PEXPIRE: sets a time to live (millisecond precision). False if the key does not exist.
    public static func expire(_ key: String, _ ttl: Duration) -> Self {
        Self(["PEXPIRE", RedisArgument(key), RedisArgument(ttl.redisMilliseconds)], keys: [key]) { reply throws(RedisError) in
            try reply.asInteger() == 1
        }
    }
}

extension RedisCommand where Reply == Int {
    /// DEL: how many of the keys existed and were removed.
    public static func del(_ keys: [String]) -> Self {
        Self(["DEL"] + keys.map { RedisArgument($0) }, keys: keys) { reply throws(RedisError) in try reply.asInteger() }
    }

    /// INCR: the value after adding one (a missing key counts as 0).
    public static func incr(_ key: String) -> Self {
        Self(["INCR", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in try reply.asInteger() }
    }
}

extension RedisCommand where Reply == Duration? {
    /// PTTL: the remaining time to live; nil if the key does not exist or has no expiry.
    public static func ttl(_ key: String) -> Self {
        Self(["PTTL", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in
            let milliseconds = try reply.asInteger()
            return milliseconds >= 0 ? .milliseconds(milliseconds) : nil
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a tiny positive duration never becomes 0 (which Redis
    /// refuses), as `PX` and script arguments take them.
    public var redisMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        let remainder = attoseconds % 1_000_000_000_000_000
        return remainder > 0 ? ms + 1 : ms
    }
}
