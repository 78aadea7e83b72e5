// Typed hash commands.

extension RedisCommand where Reply == Int {
    /// HSET of several text fields: how many were new.
    public static func hset(_ key: String, _ fields: [String: String]) -> Self {
        hset(key, fields.map { (RedisArgument($0.key), RedisArgument($0.value)) })
    }

    /// HSET of one field with a binary value: 1 if the field was new, 0 if it was overwritten.
    public static func hset(_ key: String, field: String, value: [UInt8]) -> Self {
        hset(key, [(RedisArgument(field), RedisArgument(value))])
    }

    private static func hset(_ key: String, _ fields: [(RedisArgument, RedisArgument)]) -> Self {
        Self(["HSET", RedisArgument(key)] + fields.flatMap { [$0.0, $0.1] }, keys: [key]) { reply throws(RedisError) in
            try reply.asInteger()
        }
    }

    /// HDEL: how many of the fields existed and were removed.
    public static func hdel(_ key: String, _ fields: [String]) -> Self {
        Self(["HDEL", RedisArgument(key)] + fields.map { RedisArgument($0) }, keys: [key]) { reply throws(RedisError) in
            try reply.asInteger()
        }
    }

    /// HLEN: the number of fields (0 for a missing key).
    public static func hlen(_ key: String) -> Self {
        Self(["HLEN", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in try reply.asInteger() }
    }
}

extension RedisCommand where Reply == String? {
    /// HGET: the field's value as text, nil if the key or field does not exist.
    public static func hget(_ key: String, _ field: String) -> Self {
        Self(["HGET", RedisArgument(key), RedisArgument(field)], keys: [key]) { reply throws(RedisError) in try reply.asString() }
    }
}

extension RedisCommand where Reply == [UInt8]? {
    /// HGET: the field's bytes, nil if the key or field does not exist.
    public static func hgetBytes(_ key: String, _ field: String) -> Self {
        Self(["HGET", RedisArgument(key), RedisArgument(field)], keys: [key]) { reply throws(RedisError) in try reply.asBytes() }
    }
}

extension RedisCommand where Reply == [[UInt8]?] {
    /// HMGET: each field's bytes in the order asked, nil for a missing one.
    public static func hmget(_ key: String, _ fields: [String]) -> Self {
        Self(["HMGET", RedisArgument(key)] + fields.map { RedisArgument($0) }, keys: [key]) { reply throws(RedisError) in
            var values: [[UInt8]?] = []
            for element in try reply.asArray() { values.append(try element.asBytes()) }
            return values
        }
    }
}

extension RedisCommand where Reply == [String: String] {
    /// HGETALL: every field and value (empty for a missing key).
    public static func hgetall(_ key: String) -> Self {
        Self(["HGETALL", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in
            let items = try reply.asStrings()
            guard items.count % 2 == 0 else {
                throw RedisError(code: .protocol, message: "HGETALL returned \(items.count) items, not field-value pairs")
            }
            var fields: [String: String] = [:]
            for index in stride(from: 0, to: items.count, by: 2) { fields[items[index]] = items[index + 1] }
            return fields
        }
    }
}
