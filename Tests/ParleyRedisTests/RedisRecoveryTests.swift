import ParleyRedis
import ParleyTestSupport
import Testing

/// Failure and recovery against private redis-servers that tests stop and restart.
@Suite("Redis reconnect and authentication")
struct RedisRecoveryTests {
    @Test func serverRestartIsSurvivedWithoutANewClient() async throws {
        let server = try await ManagedServer.start(.redis)
        defer { server.stop() }
        let key = uniqueKeyPrefix("restart") + "k"
        try await withClient(url: server.address, poolSize: 2, connectTimeout: .seconds(1)) { redis async throws in
            try await redis.send(.set(key, "before"))
            #expect(try await redis.send(.get(key)) == "before")

            server.stop()
            // Down: calls fail with .connection, they do not hang (the test's time limit catches a hang).
            for _ in 0..<3 {
                let error = await redisError { _ = try await redis.send(.get(key)) }
                #expect(error?.code == .connection, "\(String(describing: error))")
            }
            let pingError = await redisError { try await redis.ping() }
            #expect(pingError?.code == .connection)

            try await server.start()
            // Up again on the same port: the same client works (the server lost its data: no persistence).
            #expect(try await redis.send(.get(key)) == nil)
            try await redis.send(.set(key, "after"))
            #expect(try await redis.send(.get(key)) == "after")
        }
    }

    @Test func staleIdleConnectionsAreRetriedOnce() async throws {
        let server = try await ManagedServer.start(.redis)
        defer { server.stop() }
        let prefix = uniqueKeyPrefix("stale")
        let poolSize = 4
        try await withClient(url: server.address, poolSize: poolSize) { redis async throws in
            // Open every pooled connection: BLPOP with a short server timeout keeps each busy
            // long enough that the four calls need four connections.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<poolSize {
                    group.addTask { _ = try await redis.send(.raw(["BLPOP", RedisArgument(prefix + "\(index)"), "0.2"])) }
                }
                try await group.waitForAll()
            }
            // Restart while all of them sit idle: every pooled connection is now stale.
            server.stop()
            try await server.start()

            // Each call lands on a stale connection, fails, and is retried once on a new one.
            let values = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<poolSize {
                    group.addTask { try await redis.send(.incr(prefix + "n")) }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(values.sorted() == Array(1...poolSize))
            #expect(try await redis.send(.get(prefix + "n")) == "\(poolSize)")
        }
    }

    @Test func refusedConnectionFailsFastAtPing() async throws {
        let port = try freeLoopbackPort()  // nothing listens there
        try await withClient(url: "redis://127.0.0.1:\(port)") { redis async throws in
            // Refused at once: the error says so (no timing threshold: the machines are shared).
            let error = await redisError { try await redis.ping() }
            #expect(error?.code == .connection)
            #expect(error?.message.contains("127.0.0.1:\(port)") == true, "\(String(describing: error))")
            #expect(error?.message.contains("refused") == true, "\(String(describing: error))")
        }
    }

    @Test func unreachableHostFailsWithinConnectTimeout() async throws {
        // TEST-NET-1 (RFC 5737) is never routed: the connect either times out or is refused at once.
        try await withClient(url: "redis://192.0.2.1:6379", connectTimeout: .milliseconds(300)) { redis async throws in
            // The ping fails instead of hanging (the test's own time limit catches a hang).
            let error = await redisError { try await redis.ping() }
            #expect(error?.code == .connection, "\(String(describing: error))")
        }
    }

    @Test func passwordProtectedServer() async throws {
        let server = try await ManagedServer.start(.redis, arguments: ["--requirepass", "s3cret"])
        defer { server.stop() }
        let hostPort = "127.0.0.1:\(server.port)"
        let key = uniqueKeyPrefix("auth") + "k"

        // Right password (with and without the ACL user name) and a database: works.
        try await withClient(url: "redis://:s3cret@\(hostPort)/5") { redis async throws in
            try await redis.ping()
            try await redis.send(.set(key, "v"))
            #expect(try await redis.send(.get(key)) == "v")
        }
        try await withClient(url: "redis://default:s3cret@\(hostPort)/5") { redis async throws in
            #expect(try await redis.send(.get(key)) == "v", "same database 5")
        }

        // Wrong password: a clear authentication error from ping().
        try await withClient(url: "redis://:wrong@\(hostPort)") { redis async throws in
            let error = await redisError { try await redis.ping() }
            #expect(error?.code == .authentication, "\(String(describing: error))")
            #expect(error?.message.contains("WRONGPASS") == true || error?.message.contains("invalid password") == true)
            #expect(error?.message.contains("wrong") == false, "never print the password")
        }

        // No password: the server's NOAUTH error.
        try await withClient(url: server.address) { redis async throws in
            let error = await redisError { try await redis.ping() }
            #expect(error?.code == .server)
            #expect(error?.serverErrorPrefix == "NOAUTH")
        }
    }

    @Test(.disabled(if: TestEnvironment.redisIsCluster, "a cluster has database 0 only"))
    func databaseOutOfRangeIsAClearError() async throws {
        try await withClient(url: TestEnvironment.redisURL + "/999") { redis async throws in
            let error = await redisError { try await redis.ping() }
            #expect(error?.code == .authentication)
            #expect(error?.message.contains("DB index is out of range") == true, "\(String(describing: error))")
        }
    }
}
