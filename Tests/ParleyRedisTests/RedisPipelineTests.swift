import ParleyRedis
import ParleyTestSupport
import Testing

/// Typed pipelines against the shared test redis-server.
@Suite("Redis pipelines")
struct RedisPipelineTests {
    let prefix = uniqueKeyPrefix("pipe")

    @Test func entriesDecodeAsTheirCommandsTypes() async throws {
        try await withClient { redis async throws in
            let hash = prefix + "h", set = prefix + "s", counter = prefix + "n"
            var pipeline = RedisPipeline()
            let written = pipeline.add(.hset(hash, ["a": "1", "b": "2"]))
            let fields = pipeline.add(.hgetall(hash))
            let missing = pipeline.add(.get(prefix + "missing"))
            let members = pipeline.add(.sadd(set, ["x", "y"]))
            let all = pipeline.add(.smembers(set))
            let sessions = pipeline.add(RedisCommand.hgetall(hash).map { $0.count })
            #expect(pipeline.count == 6)
            let replies = try await redis.send(pipeline)
            let (w, f, m, a, s, c): (Int, [String: String], String?, Int, Set<String>, Int) =
                (try replies[written], try replies[fields], try replies[missing], try replies[members], try replies[all], try replies[sessions])
            #expect(w == 2 && f == ["a": "1", "b": "2"] && m == nil && a == 2 && s == ["x", "y"] && c == 2)

            // A fixed set of commands as a parameter pack: a tuple of their reply types.
            let (count, deleted, value) = try await redis.pipeline(.incr(counter), .del([hash, set]), .get(counter))
            #expect(count == 1 && deleted == 2 && value == "1")
            try await redis.send(.del([counter]))
        }
    }

    @Test func keepsOrderAndThrowsTheFirstErrorAfterAllRan() async throws {
        try await withClient { redis async throws in
            let counter = prefix + "pc"
            let text = prefix + "ptext"
            var pipeline = RedisPipeline()
            pipeline.add(.set(text, "plain"))
            var increments: [RedisPipeline.Entry<Int>] = []
            for index in 0..<300 {
                if index == 150 { pipeline.add(.raw(["LPUSH", RedisArgument(text), "x"], keys: [text])) }  // wrong type
                increments.append(pipeline.add(.incr(counter)))
            }
            let error = await redisError { _ = try await redis.send(pipeline) }
            #expect(error?.serverErrorPrefix == "WRONGTYPE", "\(String(describing: error))")
            // Not atomic: every other command ran, in order.
            #expect(try await redis.send(.get(counter)) == "300")

            var ordered = RedisPipeline()
            let values = (0..<300).map { _ in ordered.add(.incr(counter)) }
            let replies = try await redis.send(ordered)
            #expect(try values.map { entry throws(RedisError) in try replies[entry] } == Array(301...600))
            #expect(increments.count == 300)
            try await redis.send(.del([counter, text]))
        }
    }

    @Test func anEmptyPipelineSendsNothing() async throws {
        try await withClient(url: "redis://127.0.0.1:1") { redis async throws in
            // Port 1 refuses connections: an empty pipeline must not even try.
            let replies = try await redis.send(RedisPipeline())
            _ = replies
        }
    }
}

/// Durable sends on one server: WAIT only when replicas are asked for, in the same round trip.
@Suite("Redis durable sends (single endpoint)")
struct RedisDurableSendTests {
    @Test func withoutReplicasToWaitForADurableSendIsAPlainSend() async throws {
        let server = try await ManagedServer.start(.redis)
        try await withClient(url: server.address) { redis async throws in
            var pipeline = RedisPipeline()
            let set = pipeline.add(.set("k", "v"))
            _ = try await redis.sendDurably(pipeline)[set]
            let stats = try await redis.send(.raw(["INFO", "commandstats"])).asString() ?? ""
            #expect(!stats.contains("cmdstat_wait"), "no WAIT sent")
        }
    }

    @Test func aServerWithoutReplicasFailsADurableSendWithReplication() async throws {
        let server = try await ManagedServer.start(.redis)
        let configuration = try RedisConfiguration(host: "127.0.0.1", port: server.port, replicasToWait: 1,
                                                   replicaTimeout: .milliseconds(50))
        let redis = RedisClient(configuration: configuration, logger: testLogger)
        var pipeline = RedisPipeline()
        pipeline.add(.set("k", "v"))
        let error = await redisError { _ = try await redis.sendDurably(pipeline) }
        #expect(error?.code == .replication)
        #expect(try await redis.send(.get("k")) == "v", "the write happened; only its replication is missing")
        await redis.close()
    }
}
