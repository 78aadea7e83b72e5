import Foundation
import ParleyRedis
import ParleyTestSupport
import Testing

@Suite("Redis connection pool")
struct RedisPoolTests {
    @Test func hundredConcurrentCallersShareAFewConnections() async throws {
        // A private server, so the connection count we read from it is ours alone.
        let server = try await ManagedServer.start(.redis)
        defer { server.stop() }
        let prefix = uniqueKeyPrefix("pool")
        let counter = prefix + "counter"
        let callers = 100
        let rounds = 5
        let poolSize = 6

        try await withClient(url: server.address, poolSize: poolSize) { redis async throws in
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        var ok = true
                        let own = prefix + "caller-\(caller)"
                        for round in 0..<rounds {
                            let value = "\(caller)-\(round)"
                            _ = try await redis.send(.incr(counter))
                            let mine = try await redis.send(.incr(own))
                            try await redis.send(.set(own + ":v", RedisArgument(value)))
                            ok = ok && mine == round + 1
                            let readBack = try await redis.send(.get(own + ":v"))
                            ok = ok && readBack == value
                        }
                        return ok
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.count == callers)
            #expect(results.allSatisfy { $0 }, "every caller read back its own values")
            #expect(try await redis.send(.get(counter)) == "\(callers * rounds)")

            // The pool never opened more than poolSize connections (CLIENT LIST itself runs on one of them).
            let clients = try await redis.send(.raw(["CLIENT", "LIST"])).asString() ?? ""
            let connections = clients.split(separator: "\n").count
            #expect(connections >= 1 && connections <= poolSize, "\(connections) connections")
        }
    }

    @Test(.disabled(if: TestEnvironment.redisIsCluster, "the pool is per node there; a keyless command may go to any"))
    func waitingCallerCanBeCancelled() async throws {
        try await withClient(poolSize: 1) { redis async throws in
            let key = uniqueKeyPrefix("cancel") + "list"
            // Occupy the only connection until the RPUSH below (the server-side timeout is only a
            // backstop: a loaded machine must not end the BLPOP before the push arrives).
            let name = try await nameTheOnlyConnection(redis, "cancel")
            let blocker = Task { try await redis.send(.raw(["BLPOP", RedisArgument(key), "60"])) }
            // Wait until the blocker holds the connection: a second caller then has to queue.
            try await waitUntil("\(name) blocked on \(key)") { await isBlocked(name) }
            let waiter = Task { try await redis.ping() }
            waiter.cancel()
            let result = await waiter.result
            #expect(throws: CancellationError.self) { try result.get() }
            // Wake the blocker so the test ends quickly, using another client.
            try await withClient { other async throws in _ = try await other.send(.raw(["RPUSH", RedisArgument(key), "go"])) }
            #expect(try await blocker.value.asStrings().last == "go")
            try await redis.ping()
        }
    }
}

extension RedisPoolTests {
    @Test(.disabled(if: TestEnvironment.redisIsCluster, "the pool is per node there; a keyless command may go to any"))
    func closeFailsWaitingCallers() async throws {
        let key = uniqueKeyPrefix("close") + "list"
        let configuration = try RedisConfiguration(url: TestEnvironment.redisURL, poolSize: 1)
        let redis = RedisClient(configuration: configuration, logger: testLogger)
        let name = try await nameTheOnlyConnection(redis, "close")
        let blocker = Task { try await redis.send(.raw(["BLPOP", RedisArgument(key), "0.5"])) }
        try await waitUntil("\(name) blocked on \(key)") { await isBlocked(name) }
        let waiter = Task { try await redis.ping() }
        await redis.close()
        let waiterError = await redisError { try await waiter.value }
        #expect(waiterError?.code == .closed)
        // The command already running finishes normally (BLPOP times out: null).
        #expect(try await blocker.value == .null)
        #expect(await redisError { try await redis.ping() }?.code == .closed)
    }
}

/// Names the single connection of a pool of one, so `isBlocked` finds this test's connection
/// among the shared server's clients (other suites run BLPOP at the same time).
private func nameTheOnlyConnection(_ redis: RedisClient, _ label: String) async throws -> String {
    let name = "pooltest-\(label)-\(UUID().uuidString.prefix(8))"
    _ = try await redis.send(.raw(["CLIENT", "SETNAME", RedisArgument(name)]))
    return name
}

/// True when the client named `name` is blocked in BLPOP.
private func isBlocked(_ name: String) async -> Bool {
    var blocked = false
    try? await withClient { other async throws in
        let list = try await other.send(.raw(["CLIENT", "LIST"])).asString() ?? ""
        blocked = list.split(separator: "\n").contains { $0.contains(" name=\(name) ") && $0.contains("cmd=blpop") }
    }
    return blocked
}
