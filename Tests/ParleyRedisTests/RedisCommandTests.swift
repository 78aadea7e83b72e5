import ParleyRedis
import ParleyTestSupport
import Testing

/// Commands against the shared test redis-server (`PARLEY_TEST_REDIS_URL`).
@Suite("Redis commands")
struct RedisCommandTests {
    let prefix = uniqueKeyPrefix("cmd")

    @Test func pingAndEcho() async throws {
        try await withClient { redis async throws in
            try await redis.ping()
            #expect(try await redis.send(["ECHO", "hello"]) == .bulk(Array("hello".utf8)))
        }
    }

    @Test func stringsWithNXAndExpiry() async throws {
        try await withClient { redis async throws in
            let key = prefix + "s"
            let temp = prefix + "temp"
            #expect(try await redis.get(key) == nil)
            #expect(try await redis.set(key, "one"))
            #expect(try await redis.get(key) == "one")
            #expect(try await redis.set(key, "two", nx: true) == false, "NX must refuse an existing key")
            #expect(try await redis.get(key) == "one")
            #expect(try await redis.ttl(key) == nil)

            #expect(try await redis.set(temp, "x", nx: true, expire: .seconds(30)))
            let ttl = try #require(try await redis.ttl(temp))
            #expect(ttl > .zero && ttl <= .seconds(30))

            #expect(try await redis.expire(key, .seconds(60)))
            #expect(try await redis.ttl(key) != nil)
            #expect(try await redis.expire(prefix + "missing", .seconds(1)) == false)

            #expect(try await redis.exists(key))
            #expect(try await redis.del(key, temp, prefix + "missing") == 2)
            #expect(try await redis.exists(key) == false)

            #expect(try await redis.incr(prefix + "n") == 1)
            #expect(try await redis.incr(prefix + "n") == 2)
            #expect(try await redis.incrby(prefix + "n", 40) == 42)
            try await redis.del(prefix + "n")
        }
    }

    @Test func hashes() async throws {
        try await withClient { redis async throws in
            let key = prefix + "h"
            #expect(try await redis.hset(key, ["s1": "edge-a", "s2": "edge-b"]) == 2)
            #expect(try await redis.hset(key, "s3", "edge-c"))
            #expect(try await redis.hset(key, "s3", "edge-d") == false, "overwrite is not a new field")
            #expect(try await redis.hget(key, "s3") == "edge-d")
            #expect(try await redis.hget(key, "nope") == nil)
            #expect(try await redis.hlen(key) == 3)
            #expect(try await redis.hgetall(key) == ["s1": "edge-a", "s2": "edge-b", "s3": "edge-d"])
            #expect(try await redis.hdel(key, "s1", "nope") == 1)
            #expect(try await redis.hdel(key, ["s2", "s3"]) == 2)
            #expect(try await redis.hlen(key) == 0)
            #expect(try await redis.hgetall(key) == [:])
            #expect(try await redis.exists(key) == false)
        }
    }

    @Test func sortedSets() async throws {
        try await withClient { redis async throws in
            let key = prefix + "z"
            #expect(try await redis.zadd(key, [(3, "c"), (1, "a"), (2, "b")]) == 3)
            #expect(try await redis.zadd(key, score: 4, member: "d"))
            #expect(try await redis.zadd(key, score: 0.5, member: "d") == false, "a score update is not new")
            #expect(try await redis.zrange(key, 0, -1) == ["d", "a", "b", "c"])
            #expect(try await redis.zrange(key, 1, 2) == ["a", "b"])
            #expect(try await redis.zcard(key) == 4)
            #expect(try await redis.zrem(key, "b", "nope") == 1)
            #expect(try await redis.zremrangebyrank(key, 0, 0) == 1)
            #expect(try await redis.zrange(key, 0, -1) == ["a", "c"])
            try await redis.del(key)
        }
    }

    @Test func sortedSetLexRanges() async throws {
        try await withClient { redis async throws in
            // Same score: ordered by member, as the inbox orders time-sortable message ids.
            let key = prefix + "lex"
            let ids = ["0190a1", "0190a2", "0190b1", "0190b2", "0191"]
            #expect(try await redis.zadd(key, ids.shuffled().map { (0, $0) }) == 5)
            #expect(try await redis.zrangeByLex(key, "-", "+") == ids)
            #expect(try await redis.zrangeByLex(key, "[0190a", "(0190b") == ["0190a1", "0190a2"])
            #expect(try await redis.zrangeByLex(key, "(0190a2", "+") == ["0190b1", "0190b2", "0191"])
            #expect(try await redis.zrangeByLex(key, "-", "+", limit: (offset: 1, count: 2)) == ["0190a2", "0190b1"])
            #expect(try await redis.zrangeByLex(key, "[zzz", "+") == [])
            try await redis.del(key)
        }
    }

    @Test func sets() async throws {
        try await withClient { redis async throws in
            let key = prefix + "set"
            #expect(try await redis.sadd(key, "a", "b", "c") == 3)
            #expect(try await redis.sadd(key, ["a", "d"]) == 1)
            #expect(try await redis.smembers(key) == ["a", "b", "c", "d"])
            #expect(try await redis.srem(key, "a", "zz") == 1)
            #expect(try await redis.srem(key, ["b", "c", "d"]) == 3)
            #expect(try await redis.smembers(key) == [])
        }
    }

    @Test func binarySafeValues() async throws {
        try await withClient { redis async throws in
            let all = (0...255).map { UInt8($0) }
            let value = all + [0, 0, 13, 10, 0] + all.reversed()
            let key = prefix + "bin"
            #expect(try await redis.set(key, value))
            #expect(try await redis.getBytes(key) == value)
            #expect(try await redis.send(["STRLEN", RedisArgument(key)]) == .integer(Int64(value.count)))

            // A binary key and a binary hash field value.
            let binaryKey = RedisArgument(Array(prefix.utf8) + [0, 1, 2, 0xFF])
            #expect(try await redis.send(["SET", binaryKey, RedisArgument(all)]) == .status("OK"))
            #expect(try await redis.send(["GET", binaryKey]) == .bulk(all))
            #expect(try await redis.hset(prefix + "binh", "f", all))
            #expect(try await redis.hgetBytes(prefix + "binh", "f") == all)

            // Empty value is not null.
            #expect(try await redis.set(prefix + "empty", [UInt8]()))
            #expect(try await redis.getBytes(prefix + "empty") == [])
            try await redis.send(["DEL", RedisArgument(key), binaryKey, RedisArgument(prefix + "binh"), RedisArgument(prefix + "empty")])
        }
    }

    @Test func pipelineKeepsOrderAndReturnsErrorsInPlace() async throws {
        try await withClient { redis async throws in
            let counter = prefix + "pc"
            let text = prefix + "ptext"
            var commands: [RedisCommand] = [["SET", RedisArgument(text), "plain"]]
            for _ in 0..<300 { commands.append(["INCR", RedisArgument(counter)]) }
            commands.insert(["LPUSH", RedisArgument(text), "x"], at: 150)  // wrong type
            commands.append(["GET", RedisArgument(counter)])

            let replies = try await redis.pipeline(commands)
            #expect(replies.count == commands.count)
            #expect(replies[0] == .status("OK"))
            #expect(replies[150].errorMessage?.hasPrefix("WRONGTYPE") == true, "\(replies[150])")
            let increments = (replies[1..<150] + replies[151..<(replies.count - 1)]).map(\.int)
            #expect(increments == (1...300).map { Int64($0) })
            #expect(replies.last?.string == "300")
            #expect(try await redis.pipeline([]) == [])
            try await redis.del(counter, text)
        }
    }

    @Test func transactionReturnsExecReplies() async throws {
        try await withClient { redis async throws in
            let key = prefix + "tx"
            let replies = try await redis.transaction([
                ["INCR", RedisArgument(key)], ["INCR", RedisArgument(key)], ["GET", RedisArgument(key)],
            ])
            #expect(replies == [.integer(1), .integer(2), .bulk(Array("2".utf8))])

            // A runtime error inside EXEC comes back in place; the rest still runs.
            let mixed = try await redis.transaction([
                ["LPUSH", RedisArgument(key), "x"], ["INCR", RedisArgument(key)],
            ])
            #expect(mixed.count == 2)
            #expect(mixed[0].errorMessage?.hasPrefix("WRONGTYPE") == true)
            #expect(mixed[1] == .integer(3))

            // A command refused while queuing aborts the whole transaction.
            let error = await redisError {
                _ = try await redis.transaction([["INCR", RedisArgument(key)], ["SET", RedisArgument(key)]])
            }
            #expect(error?.code == .server)
            #expect(error?.serverErrorPrefix == "EXECABORT", "\(String(describing: error))")
            #expect(try await redis.get(key) == "3", "nothing ran")

            // The connection is usable afterwards (not left inside MULTI).
            #expect(try await redis.pipeline([["INCR", RedisArgument(key)]]) == [.integer(4)])
            try await redis.del(key)
        }
    }

    @Test func wrongTypeThrowsServerError() async throws {
        try await withClient { redis async throws in
            let key = prefix + "wt"
            try await redis.set(key, "string")
            let error = await redisError { _ = try await redis.hget(key, "f") }
            #expect(error?.code == .server)
            #expect(error?.serverErrorPrefix == "WRONGTYPE")
            #expect(error?.message.contains("wrong kind of value") == true)
            // The connection survives a server error.
            #expect(try await redis.get(key) == "string")
            try await redis.del(key)
        }
    }

    @Test func emptyCommandIsRejectedBeforeSending() async throws {
        try await withClient { redis async throws in
            let error = await redisError { _ = try await redis.send([]) }
            #expect(error?.code == .protocol)
        }
    }

    @Test func commandTimeoutFailsAndConnectionRecovers() async throws {
        try await withClient(poolSize: 1, commandTimeout: .milliseconds(300)) { redis async throws in
            let key = prefix + "never"
            var error: RedisError?
            let took = await elapsed {
                error = await redisError { _ = try await redis.send(["BLPOP", RedisArgument(key), "2"]) }
            }
            #expect(error?.code == .timeout, "\(String(describing: error))")
            #expect(took < .milliseconds(1500))
            // The timed-out connection was discarded: the only pooled connection works again.
            try await redis.ping()
            #expect(try await redis.incr(prefix + "after") == 1)
            try await redis.del(prefix + "after")
        }
    }

    @Test func databaseSelectionIsolatesKeys() async throws {
        let base = TestEnvironment.redisURL
        let key = prefix + "db"
        try await withClient(url: base + "/1") { db1 async throws in
            try await withClient(url: base + "/2") { db2 async throws in
                try await withClient(url: base) { db0 async throws in
                    try await db1.set(key, "in-1")
                    try await db2.set(key, "in-2")
                    #expect(try await db1.get(key) == "in-1")
                    #expect(try await db2.get(key) == "in-2")
                    #expect(try await db0.get(key) == nil)
                    try await db1.del(key)
                    #expect(try await db2.get(key) == "in-2")
                    try await db2.del(key)
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
