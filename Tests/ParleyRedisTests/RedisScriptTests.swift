import ParleyRedis
import ParleyTestSupport
import Testing

/// Scripts run by EVALSHA against private redis-servers, whose script cache and statistics are
/// the test's alone.
@Suite("Redis scripts")
struct RedisScriptTests {
    /// Appends ARGV[1] to the list KEYS[1] and answers the list's length.
    static let append = RedisScript(keys: 1, "return redis.call('RPUSH', KEYS[1], ARGV[1])") { reply throws(RedisError) in
        try reply.asInteger()
    }

    @Test func aCallIsLoadedInTheSameRoundTripOnceAndThenRunByEVALSHA() async throws {
        let server = try await ManagedServer.start(.redis)
        defer { server.stop() }
        let key = uniqueKeyPrefix("script") + "list"
        try await withClient(url: server.address, poolSize: 1) { redis async throws in
            #expect(try await redis.send(Self.append.call(keys: [key], arguments: ["a"])) == 1)
            #expect(try await redis.send(Self.append.call(keys: [key], arguments: ["b"])) == 2)
            let stats = try await commandStats(redis)
            #expect(stats["evalsha"] == 2)
            #expect(stats["script|load"] == 1, "loaded once by the connection, not per call: \(stats)")
            #expect(stats["eval"] == nil)
            #expect(try await errorCount("NOSCRIPT", redis) == 0)
        }
    }

    @Test func afterSCRIPTFLUSHACallIsReloadedAndSentAgainTransparently() async throws {
        let server = try await ManagedServer.start(.redis)
        defer { server.stop() }
        let key = uniqueKeyPrefix("flush") + "list"
        try await withClient(url: server.address, poolSize: 1) { redis async throws in
            #expect(try await redis.send(Self.append.call(keys: [key], arguments: ["a"])) == 1)
            try await redis.send(.raw(["SCRIPT", "FLUSH"]))

            #expect(try await redis.send(Self.append.call(keys: [key], arguments: ["b"])) == 2)
            #expect(try await errorCount("NOSCRIPT", redis) == 1, "the server answered NOSCRIPT once")
            #expect(try await commandStats(redis)["script|load"] == 2, "and the script was loaded again")

            // In a pipeline every call that met NOSCRIPT is sent again, in its order.
            try await redis.send(.raw(["SCRIPT", "FLUSH"]))
            var pipeline = RedisPipeline()
            let lengths = ["c", "d", "e"].map { pipeline.add(Self.append.call(keys: [key], arguments: [RedisArgument($0)])) }
            let total = pipeline.add(.raw(["LLEN", RedisArgument(key)], keys: [key]))
            let replies = try await redis.send(pipeline)
            #expect(try lengths.map { entry throws(RedisError) in try replies[entry] } == [3, 4, 5])
            #expect(try replies[total] == .integer(2), "the plain command ran first, before the calls were sent again")
            #expect(try await redis.send(.raw(["LRANGE", RedisArgument(key), "0", "-1"], keys: [key])).asStrings()
                    == ["a", "b", "c", "d", "e"])
            #expect(try await errorCount("NOSCRIPT", redis) == 4)
        }
    }

    @Test func aFreshConnectionLoadsItsScriptsAgain() async throws {
        let server = try await ManagedServer.start(.redis)
        defer { server.stop() }
        let key = uniqueKeyPrefix("restart") + "list"
        try await withClient(url: server.address, poolSize: 1, connectTimeout: .seconds(1)) { redis async throws in
            #expect(try await redis.send(Self.append.call(keys: [key], arguments: ["a"])) == 1)
            // A restart empties the server's script cache and breaks the connection.
            server.stop()
            try await server.start()
            #expect(try await redis.send(Self.append.call(keys: [key], arguments: ["b"])) == 1)
            #expect(try await errorCount("NOSCRIPT", redis) == 0, "the new connection loaded the script before calling it")
        }
    }

    @Test func aScriptErrorIsAServerError() async throws {
        try await withClient { redis async throws in
            let failing = RedisScript(keys: 1, "return redis.error_reply('NOPE ' .. KEYS[1])") { reply throws(RedisError) in reply }
            let key = uniqueKeyPrefix("fail") + "k"
            let error = await redisError { _ = try await redis.send(failing.call(keys: [key])) }
            #expect(error?.code == .server)
            #expect(error?.message == "NOPE \(key)", "\(String(describing: error))")
        }
    }
}

/// `calls` per command from INFO commandstats (subcommands as `script|load`).
private func commandStats(_ redis: RedisClient) async throws -> [String: Int] {
    var calls: [String: Int] = [:]
    for line in try await redis.send(.raw(["INFO", "commandstats"])).asString()?.split(separator: "\r\n") ?? [] {
        guard line.hasPrefix("cmdstat_"), let colon = line.firstIndex(of: ":") else { continue }
        let name = String(line[line.index(line.startIndex, offsetBy: 8)..<colon])
        let fields = line[line.index(after: colon)...].split(separator: ",")
        if let value = fields.first(where: { $0.hasPrefix("calls=") }).flatMap({ Int($0.dropFirst(6)) }) { calls[name] = value }
    }
    return calls
}

/// How many error replies starting with `prefix` the server sent (INFO errorstats).
private func errorCount(_ prefix: String, _ redis: RedisClient) async throws -> Int {
    let info = try await redis.send(.raw(["INFO", "errorstats"])).asString() ?? ""
    guard let line = info.split(separator: "\r\n").first(where: { $0.hasPrefix("errorstat_\(prefix):") }) else { return 0 }
    return Int(line.split(separator: "=").last ?? "") ?? 0
}
