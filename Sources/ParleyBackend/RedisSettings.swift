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
    public static let user = Setting("redis-user", .string, default: "",
        help: "this service's Redis ACL user (with --redis-password-file); empty: the default user")
    public static let passwordFile = Setting("redis-password-file", .string, default: "",
        help: "file holding the Redis password (a secret mount), sent with AUTH on every connect")
    public static let waitReplicas = Setting("redis-wait-replicas", .integer(0...16), default: "0",
        help: "replicas a batch's Redis writes must reach (WAIT) before it is produced or committed; at least 1 in cluster mode")

    /// Every Redis setting.
    public static let all: [Setting] = [url, poolSize, user, passwordFile, waitReplicas]
}

/// Redis settings of a service.
public struct RedisSettingsConfiguration: Sendable {
    public let redis: RedisConfiguration

    public init(values: SettingValues) throws {
        var redis: RedisConfiguration
        do {
            redis = try RedisConfiguration(url: values.string(RedisSettings.url),
                                           poolSize: values.int(RedisSettings.poolSize),
                                           replicasToWait: values.int(RedisSettings.waitReplicas))
        } catch {
            throw ConfigurationError("invalid PARLEY_REDIS_URL: \(error)")
        }
        let user = values.string(RedisSettings.user)
        let password = try SecretFile.read(RedisSettings.passwordFile, values)
        if !user.isEmpty || password != nil {
            guard redis.password == nil else {
                throw ConfigurationError("invalid PARLEY_REDIS_URL: credentials go in PARLEY_REDIS_USER and PARLEY_REDIS_PASSWORD_FILE, not in both")
            }
            guard let password else {
                throw ConfigurationError("invalid PARLEY_REDIS_PASSWORD_FILE: PARLEY_REDIS_USER=\(user) needs a password file")
            }
            redis.username = user.isEmpty ? nil : user
            redis.password = password
        }
        self.redis = redis
    }
}

