import ParleyBackend
import ParleyServiceKit

/// offline-svc's settings.
public enum OfflineSettings {
    public static let streamMaxEntries = Setting("stream-max-entries", .integer(1...10_000_000), default: "10000",
        help: "entries kept per user stream; older ones are trimmed (a prefix) as new ones arrive")
    public static let streamRetention = Setting("stream-retention", .duration, default: "720h",
        help: "stream entries older than this are trimmed (a prefix) as new ones arrive or a device syncs")
    public static let streamMaxBytes = Setting("stream-max-bytes", .integer(65536...1_073_741_824), default: "4194304",
        help: "bytes of entry JSON kept per user stream (bodies are stored once per conversation, not here); the oldest entries are trimmed (a prefix) beyond it")
    public static let maxDevices = Setting("max-devices", .integer(1...1024), default: "16",
        help: "device cursors kept per user; a new device beyond it evicts the one with the lowest cursor")
    public static let syncPageEntries = Setting("sync-page-entries", .integer(1...1000), default: "200",
        help: "most entries in one sync page")
    public static let syncPageBytes = Setting("sync-page-bytes", .integer(16384...524_288), default: "262144",
        help: "most bytes of entry JSON in one sync page (one entry always fits)")
    public static let maxSubscriptions = Setting("max-subscriptions", .integer(1...1024), default: "64",
        help: "sessions subscribed to one user's live entries; subscribing one more drops the one subscribed longest ago")
    public static let groupReceiptsMax = Setting("group-receipts-max", .integer(0...1000), default: "20",
        help: "groups of at most this many members give senders read receipts; bigger ones only read cursors in members")
    public static let queryRate = Setting("query-rate", .integer(1...1_000_000), default: "20",
        help: "query units a user's budget refills per second (history/conversations 1 + limit/25, members 2, sync 1); over it: rate_limited")
    public static let queryBurst = Setting("query-burst", .integer(1...1_000_000), default: "200",
        help: "most query units a user may spend at once")
    public static let redisMemoryInterval = Setting("redis-memory-interval", .duration, default: "15s",
        help: "how often Redis's INFO memory is sampled for parley_redis_used_memory_bytes and parley_redis_maxmemory_bytes")

    public static let all: [Setting] = CommonSettings.kafka + RedisSettings.all + CommonSettings.process(adminPort: 9103)
        + [streamMaxEntries, streamRetention, streamMaxBytes, maxDevices, syncPageEntries, syncPageBytes, maxSubscriptions,
           groupReceiptsMax, queryRate, queryBurst, redisMemoryInterval]
}

/// offline-svc's configuration.
public struct OfflineConfiguration: ServiceConfiguration {
    public static let serviceName = "offline-svc"
    public static let summary = "user streams: per-user order, device cursors, read state, sync and live delivery"
    public static var settings: [Setting] { OfflineSettings.all }

    public var common: CommonConfiguration
    public var redis: RedisSettingsConfiguration
    public var streams: StreamPolicy
    /// Groups of at most this many current members give `read` receipts (`--group-receipts-max`).
    public var groupReceiptsMax: Int
    /// Each user's query budget (`--query-rate`, `--query-burst`).
    public var queryRate: Int
    public var queryBurst: Int
    /// How often Redis memory is sampled (`--redis-memory-interval`).
    public var redisMemoryInterval: Duration

    public init(values: SettingValues) throws {
        common = try CommonConfiguration(values: values, clientID: Self.serviceName)
        redis = try RedisSettingsConfiguration(values: values)
        streams = StreamPolicy(maxEntries: values.int(OfflineSettings.streamMaxEntries),
                               retention: values.duration(OfflineSettings.streamRetention),
                               maxDevices: values.int(OfflineSettings.maxDevices),
                               pageEntries: values.int(OfflineSettings.syncPageEntries),
                               pageBytes: values.int(OfflineSettings.syncPageBytes),
                               maxSubscriptions: values.int(OfflineSettings.maxSubscriptions),
                               maxBytes: values.int(OfflineSettings.streamMaxBytes))
        groupReceiptsMax = values.int(OfflineSettings.groupReceiptsMax)
        queryRate = values.int(OfflineSettings.queryRate)
        queryBurst = values.int(OfflineSettings.queryBurst)
        guard queryBurst >= 5 else {
            throw ConfigurationError("invalid PARLEY_QUERY_BURST: must be at least 5 (one full history page)")
        }
        redisMemoryInterval = values.duration(OfflineSettings.redisMemoryInterval)
        guard redisMemoryInterval >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_REDIS_MEMORY_INTERVAL: must be at least 1s")
        }
        guard streams.retention >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_STREAM_RETENTION: must be at least 1s")
        }
    }
}
