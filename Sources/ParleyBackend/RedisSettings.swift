import ParleyRedis
import ParleyServiceKit

/// The Redis settings of the backend services (relay-svc, presence-svc, offline-svc; edges never
/// talk to Redis).
public enum RedisSettings {
    public static let url = Setting("redis-url", .nonEmpty, default: "redis://127.0.0.1:6379",
        help: "redis://[[user]:password@]host[:port][/db], or redis+cluster://host:port,host:port,… for Redis Cluster",
        redaction: .urlCredentials)
    public static let poolSize = Setting("redis-pool-size", .integer(1...256), default: "8",
        help: "Redis connections in the pool (per node in cluster mode)")

    public static let waitReplicas = Setting("redis-wait-replicas", .integer(0...16), default: "0",
        help: "replicas a batch's Redis writes must reach (WAIT) before it is produced or committed; at least 1 in cluster mode")

    /// Every Redis setting.
    public static let all: [Setting] = [url, poolSize, waitReplicas]
}

/// Redis settings of a service.
public struct RedisSettingsConfiguration: Sendable {
    public let redis: RedisConfiguration

    public init(values: SettingValues) throws {
        do {
            redis = try RedisConfiguration(url: values.string(RedisSettings.url),
                                           poolSize: values.int(RedisSettings.poolSize),
                                           replicasToWait: values.int(RedisSettings.waitReplicas))
        } catch {
            throw ConfigurationError("invalid PARLEY_REDIS_URL: \(error)")
        }
    }
}

