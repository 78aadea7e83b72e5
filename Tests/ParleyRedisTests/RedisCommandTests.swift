import ParleyRedis
import ParleyTestSupport
import Testing

/// Typed commands against the shared test redis-server (`PARLEY_TEST_REDIS_URL`).
@Suite("Redis commands")
struct RedisCommandTests {
    let prefix = uniqueKeyPrefix("cmd")

    @Test func pingAndRawCommands() async throws {
        try await withClient { redis async throws in
            try await redis.ping()
            #expect(try await redis.send(.raw(["ECHO", "hello"])) == .bulk(Array("hello".utf8)))
        }
    }

    @Test func stringsWithNXAndExpiry() async throws {
        try await withClient { redis async throws in
            let key = prefix + "s"
            let temp = prefix + "temp"
            #expect(try await redis.send(.get(key)) == nil)
            #expect(try await redis.send(.set(key, "one")))
            #expect(try await redis.send(.get(key)) == "one")
            #expect(try await redis.send(.set(key, "two", nx: true)) == false, "NX must refuse an existing key")
            #expect(try await redis.send(.get(key)) == "one")
            #expect(try await redis.send(.ttl(key)) == nil)

            #expect(try await redis.send(.set(temp, "x", nx: true, expire: .seconds(30))))
            let ttl = try #require(try await redis.send(.ttl(temp)))
            #expect(ttl > .zero && ttl <= .seconds(30))

            #expect(try await redis.send(.expire(key, .seconds(60))))
            #expect(try await redis.send(.ttl(key)) != nil)
            #expect(try await redis.send(.expire(prefix + "missing", .seconds(1))) == false)

            #expect(try await redis.send(.exists(key)))
            #expect(try await redis.send(.del([key, temp, prefix + "missing"])) == 2)
            #expect(try await redis.send(.exists(key)) == false)

            #expect(try await redis.send(.incr(prefix + "n")) == 1)
            #expect(try await redis.send(.incr(prefix + "n")) == 2)
            try await redis.send(.del([prefix + "n"]))
        }
    }

    @Test func setIfAbsentReturnsTheFirstValue() async throws {
        try await withClient { redis async throws in
            let key = prefix + "first"
            #expect(try await redis.send(.setIfAbsent(key, "m1", expire: .seconds(30))) == nil, "stored: nothing was there")
            #expect(try await redis.send(.setIfAbsent(key, "m2", expire: .seconds(30))) == "m1", "kept: the first value")
            #expect(try await redis.send(.get(key)) == "m1")
            let ttl = try #require(try await redis.send(.ttl(key)))
            #expect(ttl > .zero && ttl <= .seconds(30))
            try await redis.send(.del([key]))
        }
    }

    @Test func hashes() async throws {
        try await withClient { redis async throws in
            let key = prefix + "h"
            #expect(try await redis.send(.hset(key, ["s1": "edge-a", "s2": "edge-b"])) == 2)
            #expect(try await redis.send(.hset(key, ["s3": "edge-c"])) == 1)
            #expect(try await redis.send(.hset(key, ["s3": "edge-d"])) == 0, "overwrite is not a new field")
            #expect(try await redis.send(.hget(key, "s3")) == "edge-d")
            #expect(try await redis.send(.hget(key, "nope")) == nil)
            #expect(try await redis.send(.hlen(key)) == 3)
            #expect(try await redis.send(.hgetall(key)) == ["s1": "edge-a", "s2": "edge-b", "s3": "edge-d"])
            #expect(try await redis.send(.hmget(key, ["s2", "nope", "s1"])) == [Array("edge-b".utf8), nil, Array("edge-a".utf8)])
            #expect(try await redis.send(.hdel(key, ["s1", "nope"])) == 1)
            #expect(try await redis.send(.hdel(key, ["s2", "s3"])) == 2)
            #expect(try await redis.send(.hlen(key)) == 0)
            #expect(try await redis.send(.hgetall(key)) == [:])
            #expect(try await redis.send(.exists(key)) == false)
        }
    }

    @Test func sortedSets() async throws {
        try await withClient { redis async throws in
            let key = prefix + "z"
            let scored = [("c", 3.0), ("a", 1.0), ("b", 2.0)].map { RedisScoredMember(member: $0.0, score: $0.1) }
            #expect(try await redis.send(.zadd(key, scored)) == 3)
            #expect(try await redis.send(.zadd(key, [RedisScoredMember(member: "d", score: 4)])) == 1)
            #expect(try await redis.send(.zadd(key, [RedisScoredMember(member: "d", score: 0.5)])) == 0, "a score update is not new")
            #expect(try await redis.send(.zrange(key, 0, -1)) == ["d", "a", "b", "c"])
            #expect(try await redis.send(.zrange(key, 1, 2)) == ["a", "b"])
            #expect(try await redis.send(.zrangeWithScores(key, 0, 1)) == [RedisScoredMember(member: "d", score: 0.5),
                                                                          RedisScoredMember(member: "a", score: 1)])
            #expect(try await redis.send(.zscore(key, "b")) == 2)
            #expect(try await redis.send(.zscore(key, "nope")) == nil)
            #expect(try await redis.send(.zcard(key)) == 4)
            #expect(try await redis.send(.zrem(key, ["b", "nope"])) == 1)
            #expect(try await redis.send(.zrange(key, 0, -1)) == ["d", "a", "c"])
            try await redis.send(.del([key]))
        }
    }

    @Test func sameScoreMembersSortByTheirBytes() async throws {
        try await withClient { redis async throws in
            // The inbox relies on it: score 0 for every time-sortable message id.
            let key = prefix + "lex"
            let ids = ["0190a1", "0190a2", "0190b1", "0190b2", "0191"]
            #expect(try await redis.send(.zadd(key, ids.shuffled().map { RedisScoredMember(member: $0, score: 0) })) == 5)
            #expect(try await redis.send(.zrange(key, 0, -1)) == ids)
            try await redis.send(.del([key]))
        }
    }

    @Test func sets() async throws {
        try await withClient { redis async throws in
            let key = prefix + "set"
            #expect(try await redis.send(.sadd(key, ["a", "b", "c"])) == 3)
            #expect(try await redis.send(.sadd(key, ["a", "d"])) == 1)
            #expect(try await redis.send(.smembers(key)) == ["a", "b", "c", "d"])
            #expect(try await redis.send(.scard(key)) == 4)
            #expect(try await redis.send(.srem(key, ["a", "zz"])) == 1)
            #expect(try await redis.send(.srem(key, ["b", "c", "d"])) == 3)
            #expect(try await redis.send(.smembers(key)) == [])
            #expect(try await redis.send(.scard(key)) == 0)
        }
    }

    @Test func binarySafeValues() async throws {
        try await withClient { redis async throws in
            let all = (0...255).map { UInt8($0) }
            let value = all + [0, 0, 13, 10, 0] + all.reversed()
            let key = prefix + "bin"
            #expect(try await redis.send(.set(key, RedisArgument(value))))
            #expect(try await redis.send(.raw(["GET", RedisArgument(key)], keys: [key])) == .bulk(value))
            #expect(try await redis.send(.raw(["STRLEN", RedisArgument(key)], keys: [key])) == .integer(Int64(value.count)))

            // A binary key and a binary hash field value.
            let binaryKey = RedisArgument(Array(prefix.utf8) + [0, 1, 2, 0xFF])
            // (`key` has the binary key's hash tag, so it names its slot for routing in a cluster.)
            #expect(try await redis.send(.raw(["SET", binaryKey, RedisArgument(all)], keys: [key])) == .status("OK"))
            #expect(try await redis.send(.raw(["GET", binaryKey], keys: [key])) == .bulk(all))
            #expect(try await redis.send(.hset(prefix + "binh", field: "f", value: all)) == 1)
            #expect(try await redis.send(.hgetBytes(prefix + "binh", "f")) == all)

            // Empty value is not null.
            #expect(try await redis.send(.hset(prefix + "binh", field: "empty", value: [])) == 1)
            #expect(try await redis.send(.hgetBytes(prefix + "binh", "empty")) == [])
            try await redis.send(.raw(["DEL", RedisArgument(key), binaryKey, RedisArgument(prefix + "binh")], keys: [key, prefix + "binh"]))
        }
    }

    @Test func wrongTypeThrowsServerError() async throws {
        try await withClient { redis async throws in
            let key = prefix + "wt"
            try await redis.send(.set(key, "string"))
            let error = await redisError { _ = try await redis.send(.hget(key, "f")) }
            #expect(error?.code == .server)
            #expect(error?.serverErrorPrefix == "WRONGTYPE")
            #expect(error?.message.contains("wrong kind of value") == true)
            // The connection survives a server error.
            #expect(try await redis.send(.get(key)) == "string")
            try await redis.send(.del([key]))
        }
    }

    @Test func aReplyOfAnotherShapeIsAProtocolError() async throws {
        try await withClient { redis async throws in
            let key = prefix + "shape"
            try await redis.send(.set(key, "not a number"))
            let asNumber = RedisCommand<Int>(["GET", RedisArgument(key)], keys: [key]) { reply throws(RedisError) in try reply.asInteger() }
            let error = await redisError { _ = try await redis.send(asNumber) }
            #expect(error?.code == .protocol, "\(String(describing: error))")
            #expect(try await redis.send(.get(key)) == "not a number")
            try await redis.send(.del([key]))
        }
    }

    @Test func emptyCommandIsRejectedBeforeSending() async throws {
        try await withClient { redis async throws in
            let error = await redisError { _ = try await redis.send(.raw([])) }
            #expect(error?.code == .protocol)
        }
    }

    @Test func commandTimeoutFailsAndConnectionRecovers() async throws {
        try await withClient(poolSize: 1, commandTimeout: .milliseconds(300)) { redis async throws in
            let key = prefix + "never"
            // BLPOP would answer nil after 2 s: a `.timeout` error is the 300 ms command timeout.
            let error = await redisError { _ = try await redis.send(.raw(["BLPOP", RedisArgument(key), "2"], keys: [key])) }
            #expect(error?.code == .timeout, "\(String(describing: error))")
            // The timed-out connection was discarded: the only pooled connection works again.
            try await redis.ping()
            #expect(try await redis.send(.incr(prefix + "after")) == 1)
            try await redis.send(.del([prefix + "after"]))
        }
    }

    @Test(.disabled(if: TestEnvironment.redisIsCluster, "a cluster has database 0 only"))
    func databaseSelectionIsolatesKeys() async throws {
        let base = TestEnvironment.redisURL
        let key = prefix + "db"
        try await withClient(url: base + "/1") { db1 async throws in
            try await withClient(url: base + "/2") { db2 async throws in
                try await withClient(url: base) { db0 async throws in
                    try await db1.send(.set(key, "in-1"))
                    try await db2.send(.set(key, "in-2"))
                    #expect(try await db1.send(.get(key)) == "in-1")
                    #expect(try await db2.send(.get(key)) == "in-2")
                    #expect(try await db0.send(.get(key)) == nil)
                    try await db1.send(.del([key]))
                    #expect(try await db2.send(.get(key)) == "in-2")
                    try await db2.send(.del([key]))
                }
            }
        }
    }

    @Test func closedClientThrowsClosed() async throws {
        let client = RedisClient(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: testLogger)
        try await client.ping()
        await client.close()
        let error = await redisError { try await client.ping() }
        #expect(error?.code == .closed)
    }
}
