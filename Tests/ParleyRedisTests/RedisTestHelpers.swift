import Foundation
import Logging
import ParleyRedis
import ParleyTestSupport

/// Quiet logger for tests: warnings and up, or the level in `PARLEY_TEST_LOG_LEVEL` (e.g. `debug`).
let testLogger: Logger = {
    var logger = Logger(label: "parley.redis.tests")
    let level = ProcessInfo.processInfo.environment["PARLEY_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
    logger.logLevel = level ?? .warning
    return logger
}()

/// A key prefix no other test uses, so tests can share one redis-server. Its hash tag puts all
/// of a test's keys on one cluster slot, so a multi-key command may name several.
func uniqueKeyPrefix(_ name: String) -> String {
    "test:{\(UUID().uuidString.prefix(8).lowercased())}:\(name):"
}

/// Runs `body` with a new client and always closes it afterwards.
func withClient(
    url: String = TestEnvironment.redisURL, poolSize: Int = 4,
    connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5),
    _ body: (RedisClient) async throws -> Void
) async throws {
    let configuration = try RedisConfiguration(
        url: url, poolSize: poolSize, connectTimeout: connectTimeout, commandTimeout: commandTimeout)
    let client = RedisClient(configuration: configuration, logger: testLogger)
    do {
        try await body(client)
        await client.close()
    } catch {
        await client.close()
        throw error
    }
}

/// Runs `body` expecting a RedisError and returns it (nil, recorded as a failure by the caller, if none).
func redisError(_ body: () async throws -> Void) async -> RedisError? {
    do {
        try await body()
        return nil
    } catch let error as RedisError {
        return error
    } catch {
        return RedisError(code: .protocol, message: "not a RedisError: \(error)")
    }
}
