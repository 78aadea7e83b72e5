// Typed conveniences over `send`. Keys are Strings; values have String and [UInt8] variants
// where binary data may matter. A server error reply throws RedisError(.server).

extension RedisClient {
    // MARK: Keys and strings

    /// GET: the value as a String (invalid UTF-8 repaired), nil if the key does not exist.
    public func get(_ key: String) async throws -> String? {
        try await send(["GET", RedisArgument(key)]).string
    }

    /// GET: the value's bytes, nil if the key does not exist.
    public func getBytes(_ key: String) async throws -> [UInt8]? {
        try await send(["GET", RedisArgument(key)]).bytes
    }

    /// SET, optionally only if the key does not exist (`NX`) and with a time to live (`PX`,
    /// millisecond precision). Returns false when `nx` is set and the key already existed.
    @discardableResult
    public func set(_ key: String, _ value: String, nx: Bool = false, expire: Duration? = nil) async throws -> Bool {
        try await set(key, RedisArgument(value), nx: nx, expire: expire)
    }

    /// SET with a binary value; same rules as the String variant.
    @discardableResult
    public func set(_ key: String, _ value: [UInt8], nx: Bool = false, expire: Duration? = nil) async throws -> Bool {
        try await set(key, RedisArgument(value), nx: nx, expire: expire)
    }

    private func set(_ key: String, _ value: RedisArgument, nx: Bool, expire: Duration?) async throws -> Bool {
        var command: RedisCommand = ["SET", RedisArgument(key), value]
        if nx { command.append("NX") }
        if let expire { command += ["PX", RedisArgument(expire.redisMilliseconds)] }
        return try await !send(command).isNull
    }

    /// DEL: how many of the keys existed and were removed.
    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await integer(send(["DEL"] + keys.map { RedisArgument($0) }))
    }

    /// DEL: how many of the keys existed and were removed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int { try await del(keys) }

    /// EXISTS: whether the key exists.
    public func exists(_ key: String) async throws -> Bool {
        try await integer(send(["EXISTS", RedisArgument(key)])) == 1
    }

    /// PEXPIRE: sets a time to live (millisecond precision). False if the key does not exist.
    @discardableResult
    public func expire(_ key: String, _ ttl: Duration) async throws -> Bool {
        try await integer(send(["PEXPIRE", RedisArgument(key), RedisArgument(ttl.redisMilliseconds)])) == 1
    }

    /// PTTL: the remaining time to live; nil if the key does not exist or has no expiry.
    public func ttl(_ key: String) async throws -> Duration? {
        let ms = try await integer(send(["PTTL", RedisArgument(key)]))
        return ms >= 0 ? .milliseconds(ms) : nil
    }

    /// INCR: the value after incrementing by one (a missing key counts as 0).
    @discardableResult
    public func incr(_ key: String) async throws -> Int64 {
        try await Int64(integer(send(["INCR", RedisArgument(key)])))
    }

    /// INCRBY: the value after incrementing by `amount`.
    @discardableResult
    public func incrby(_ key: String, _ amount: Int64) async throws -> Int64 {
        try await Int64(integer(send(["INCRBY", RedisArgument(key), RedisArgument(amount)])))
    }

    // MARK: Hashes

    /// HSET of several fields: how many fields were new.
    @discardableResult
    public func hset(_ key: String, _ fields: [String: String]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        var command: RedisCommand = ["HSET", RedisArgument(key)]
        for (field, value) in fields { command += [RedisArgument(field), RedisArgument(value)] }
        return try await integer(send(command))
    }

    /// HSET of one field: true if the field was new, false if it was overwritten.
    @discardableResult
    public func hset(_ key: String, _ field: String, _ value: String) async throws -> Bool {
        try await integer(send(["HSET", RedisArgument(key), RedisArgument(field), RedisArgument(value)])) == 1
    }

    /// HSET of one field with a binary value: true if the field was new.
    @discardableResult
    public func hset(_ key: String, _ field: String, _ value: [UInt8]) async throws -> Bool {
        try await integer(send(["HSET", RedisArgument(key), RedisArgument(field), RedisArgument(value)])) == 1
    }

    /// HGET: the field's value, nil if the key or field does not exist.
    public func hget(_ key: String, _ field: String) async throws -> String? {
        try await send(["HGET", RedisArgument(key), RedisArgument(field)]).string
    }

    /// HGET: the field's bytes, nil if the key or field does not exist.
    public func hgetBytes(_ key: String, _ field: String) async throws -> [UInt8]? {
        try await send(["HGET", RedisArgument(key), RedisArgument(field)]).bytes
    }

    /// HGETALL: every field and value (empty for a missing key).
    public func hgetall(_ key: String) async throws -> [String: String] {
        let items = try await send(["HGETALL", RedisArgument(key)]).array ?? []
        var result: [String: String] = [:]
        var index = 0
        while index + 1 < items.count {
            if let field = items[index].string, let value = items[index + 1].string { result[field] = value }
            index += 2
        }
        return result
    }

    /// HDEL: how many of the fields existed and were removed.
    @discardableResult
    public func hdel(_ key: String, _ fields: [String]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        return try await integer(send(["HDEL", RedisArgument(key)] + fields.map { RedisArgument($0) }))
    }

    /// HDEL: how many of the fields existed and were removed.
    @discardableResult
    public func hdel(_ key: String, _ fields: String...) async throws -> Int { try await hdel(key, fields) }

    /// HLEN: the number of fields (0 for a missing key).
    public func hlen(_ key: String) async throws -> Int {
        try await integer(send(["HLEN", RedisArgument(key)]))
    }

    // MARK: Sorted sets

    /// ZADD: adds members with scores (or updates their scores); returns how many were new.
    @discardableResult
    public func zadd(_ key: String, _ members: [(score: Double, member: String)]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        var command: RedisCommand = ["ZADD", RedisArgument(key)]
        for (score, member) in members { command += [RedisArgument(score), RedisArgument(member)] }
        return try await integer(send(command))
    }

    /// ZADD of one member: true if it was new.
    @discardableResult
    public func zadd(_ key: String, score: Double, member: String) async throws -> Bool {
        try await zadd(key, [(score, member)]) == 1
    }

    /// ZREM: how many of the members existed and were removed.
    @discardableResult
    public func zrem(_ key: String, _ members: [String]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try await integer(send(["ZREM", RedisArgument(key)] + members.map { RedisArgument($0) }))
    }

    /// ZREM: how many of the members existed and were removed.
    @discardableResult
    public func zrem(_ key: String, _ members: String...) async throws -> Int { try await zrem(key, members) }

    /// ZRANGE by rank, inclusive; negative indexes count from the end (`0, -1` is everything).
    public func zrange(_ key: String, _ start: Int, _ stop: Int) async throws -> [String] {
        try await strings(send(["ZRANGE", RedisArgument(key), RedisArgument(start), RedisArgument(stop)]))
    }

    /// ZRANGEBYLEX: members between `min` and `max` in lexicographic order, for a set whose
    /// members all have the same score. Bounds use Redis syntax: `[abc` inclusive, `(abc`
    /// exclusive, `-` and `+` for the ends. `limit` is (offset, count).
    public func zrangeByLex(
        _ key: String, _ min: String, _ max: String, limit: (offset: Int, count: Int)? = nil
    ) async throws -> [String] {
        var command: RedisCommand = ["ZRANGEBYLEX", RedisArgument(key), RedisArgument(min), RedisArgument(max)]
        if let limit { command += ["LIMIT", RedisArgument(limit.offset), RedisArgument(limit.count)] }
        return try await strings(send(command))
    }

    /// ZCARD: the number of members (0 for a missing key).
    public func zcard(_ key: String) async throws -> Int {
        try await integer(send(["ZCARD", RedisArgument(key)]))
    }

    /// ZREMRANGEBYRANK: removes members by rank, inclusive (negative counts from the end); returns how many.
    @discardableResult
    public func zremrangebyrank(_ key: String, _ start: Int, _ stop: Int) async throws -> Int {
        try await integer(send(["ZREMRANGEBYRANK", RedisArgument(key), RedisArgument(start), RedisArgument(stop)]))
    }

    // MARK: Sets

    /// SADD: how many of the members were new.
    @discardableResult
    public func sadd(_ key: String, _ members: [String]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try await integer(send(["SADD", RedisArgument(key)] + members.map { RedisArgument($0) }))
    }

    /// SADD: how many of the members were new.
    @discardableResult
    public func sadd(_ key: String, _ members: String...) async throws -> Int { try await sadd(key, members) }

    /// SREM: how many of the members existed and were removed.
    @discardableResult
    public func srem(_ key: String, _ members: [String]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try await integer(send(["SREM", RedisArgument(key)] + members.map { RedisArgument($0) }))
    }

    /// SREM: how many of the members existed and were removed.
    @discardableResult
    public func srem(_ key: String, _ members: String...) async throws -> Int { try await srem(key, members) }

    /// SMEMBERS: every member (empty for a missing key).
    public func smembers(_ key: String) async throws -> Set<String> {
        try await Set(strings(send(["SMEMBERS", RedisArgument(key)])))
    }

    // MARK: Reply helpers

    private func integer(_ reply: RESPValue) throws -> Int {
        guard case .integer(let value) = reply else {
            throw RedisError(code: .protocol, message: "expected an integer reply, got \(reply)")
        }
        return Int(value)
    }

    private func strings(_ reply: RESPValue) throws -> [String] {
        guard let items = reply.array else {
            throw RedisError(code: .protocol, message: "expected an array reply, got \(reply)")
        }
        return items.compactMap(\.string)
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a tiny positive duration never becomes 0 (which Redis refuses).
    var redisMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        let remainder = attoseconds % 1_000_000_000_000_000
        return remainder > 0 ? ms + 1 : ms
    }
}
