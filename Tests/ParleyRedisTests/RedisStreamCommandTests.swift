import ParleyRedis
import ParleyTestSupport
import Testing

/// Stream commands (XRANGE, XREVRANGE) against the shared test redis-server, and stream ids.
@Suite("Redis stream commands")
struct RedisStreamCommandTests {
    let prefix = uniqueKeyPrefix("stream")

    /// A stream with entries `1-0` … `count-0`, each with `n` = its number and binary field `b`.
    private func fill(_ redis: RedisClient, _ key: String, count: Int) async throws {
        var pipeline = RedisPipeline()
        for n in 1...count {
            pipeline.add(.raw(["XADD", RedisArgument(key), "\(n)-0", "n", RedisArgument(n), "b", RedisArgument([0, UInt8(n), 0xFF])],
                              keys: [key]))
        }
        _ = try await redis.send(pipeline)
    }

    private func numbers(_ entries: [RedisStreamEntry]) -> [UInt64] { entries.map(\.id.milliseconds) }

    @Test func xrangeReadsOldestFirstWithinInclusiveAndExclusiveBounds() async throws {
        try await withClient { redis async throws in
            let key = prefix + "range"
            try await fill(redis, key, count: 10)
            let all = try await redis.send(.xrange(key))
            #expect(numbers(all) == Array(1...10))
            #expect(all[2] == RedisStreamEntry(id: RedisStreamID(3, 0), fields: ["n": Array("3".utf8), "b": [0, 3, 0xFF]]))

            #expect(numbers(try await redis.send(.xrange(key, from: .inclusive(RedisStreamID(4)), to: .inclusive(RedisStreamID(6))))) == [4, 5, 6])
            #expect(numbers(try await redis.send(.xrange(key, from: .exclusive(RedisStreamID(4)), to: .exclusive(RedisStreamID(7))))) == [5, 6])
            #expect(numbers(try await redis.send(.xrange(key, from: .inclusive(RedisStreamID(5)), to: .inclusive(RedisStreamID(5))))) == [5])
            #expect(numbers(try await redis.send(.xrange(key, from: .exclusive(RedisStreamID(8)), count: 5))) == [9, 10])
            #expect(numbers(try await redis.send(.xrange(key, count: 3))) == [1, 2, 3])
            #expect(try await redis.send(.xrange(key, from: .inclusive(RedisStreamID(11)))).isEmpty)
            #expect(try await redis.send(.xrange(prefix + "missing")).isEmpty, "a missing key is an empty stream")
            try await redis.send(.del([key]))
        }
    }

    @Test func xrevrangeReadsNewestFirst() async throws {
        try await withClient { redis async throws in
            let key = prefix + "rev"
            try await fill(redis, key, count: 10)
            #expect(numbers(try await redis.send(.xrevrange(key))) == Array((1...10).reversed()))
            #expect(numbers(try await redis.send(.xrevrange(key, count: 3))) == [10, 9, 8])
            #expect(numbers(try await redis.send(.xrevrange(key, from: .exclusive(RedisStreamID(5)), count: 3))) == [4, 3, 2])
            #expect(numbers(try await redis.send(.xrevrange(key, from: .inclusive(RedisStreamID(5)), to: .exclusive(RedisStreamID(2))))) == [5, 4, 3])
            #expect(numbers(try await redis.send(.xrevrange(key, from: .exclusive(RedisStreamID(2))))) == [1])
            #expect(try await redis.send(.xrevrange(key, from: .exclusive(RedisStreamID(1)))).isEmpty)
            #expect(try await redis.send(.xrevrange(prefix + "missing")).isEmpty)
            try await redis.send(.del([key]))
        }
    }

    @Test func idsRedisMadeAreRead() async throws {
        try await withClient { redis async throws in
            let key = prefix + "auto"
            let made = try #require(try await redis.send(.raw(["XADD", RedisArgument(key), "*", "f", "v"], keys: [key])).asString())
            let entries = try await redis.send(.xrange(key))
            #expect(entries.map(\.id.description) == [made])
            #expect(entries.first?.id == RedisStreamID(made))
            try await redis.send(.del([key]))
        }
    }

    @Test func aKeyOfAnotherTypeIsAServerError() async throws {
        try await withClient { redis async throws in
            let key = prefix + "wrong"
            try await redis.send(.set(key, "string"))
            let error = await redisError { _ = try await redis.send(.xrevrange(key)) }
            #expect(error?.serverErrorPrefix == "WRONGTYPE")
            try await redis.send(.del([key]))
        }
    }

    @Test func streamIDs() {
        #expect(RedisStreamID("1526919030474-55") == RedisStreamID(1_526_919_030_474, 55))
        #expect(RedisStreamID(42).description == "42-0")
        for bad in ["", "42", "-", "42-", "-0", "a-0", "1-2-3", "18446744073709551616-0", " 1-0"] {
            #expect(RedisStreamID(bad) == nil, "\(bad)")
        }
        #expect(RedisStreamID(1, 9) < RedisStreamID(2, 0))
        #expect(RedisStreamID(2, 0) < RedisStreamID(2, 1))
        #expect(!(RedisStreamID(2, 1) < RedisStreamID(2, 1)))
    }
}
