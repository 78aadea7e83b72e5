import Metrics
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import Presence

/// Starts presence-svc on `prefix` (plus `extra` flags).
func startPresence(prefix: String, redisURL: String = TestEnvironment.redisURL, extra: [String] = []) async throws -> RunningService {
    let configuration = try loadConfiguration(PresenceConfiguration.self, serviceArguments(prefix: prefix, redisURL: redisURL) + extra)
    return try await RunningService.start("presence") { logger, onServerRunning in
        try await buildPresence(configuration, logger: logger, onServerRunning: onServerRunning)
    }
}

enum PresenceShared {
    // Spelled out instead of @TaskLocal: the macro's `$stack` is not visible to the @Suite attribute.
    static let stack = TaskLocal<ServiceStack?>(wrappedValue: nil)
}

/// A presence event as the edge sends it (keyed by the edge id, so one edge's events stay in order).
func sendPresence(_ stack: ServiceStack, _ kind: PresenceEvent.Kind, edge: String, user: String? = nil, session: String? = nil,
                  users: [String]? = nil, ts: UInt64 = UnixTime.nowMilliseconds) async throws {
    try await stack.producer.send(PresenceEvent(kind: kind, edge: edge, user: user, session: session, users: users, ts: ts),
                                  topic: stack.topics.presenceEvents, key: edge)
}

/// The presence changes of `user` read so far.
func presenceChanges(of user: String, in reader: TopicReader) -> [PresenceChange] {
    reader.decoded(PresenceChange.self).filter { $0.value.user == user }.map(\.value)
}

/// The presence changes of `user`, once there are at least `count`.
func waitForPresenceChanges(of user: String, count: Int, in reader: TopicReader) async throws -> [PresenceChange] {
    try await eventually("\(count) presence changes of \(user)") {
        let found = presenceChanges(of: user, in: reader)
        return found.count >= count ? found : nil
    }
}

/// A PresenceStore on a Redis database of its own (emptied first), for tests of what looks at
/// every edge in its database (the sweeper, the sessions gauge). The caller empties and closes
/// the returned client at its end.
func isolatedPresenceStore(_ stack: ServiceStack, database: Int, label: String,
                           metrics: any MetricsFactory = MetricsSystem.factory) async throws -> (store: PresenceStore, redis: RedisClient) {
    let redis = try testRedis(url: TestEnvironment.redisURL + "/\(database)")
    _ = try await redis.send(.raw(["FLUSHDB"]))
    let store = PresenceStore(topics: stack.topics, redis: redis, producer: stack.producer.producer, logger: serviceLogger(label),
                              metrics: metrics)
    return (store, redis)
}
