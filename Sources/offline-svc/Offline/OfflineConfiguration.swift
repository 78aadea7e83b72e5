import ParleyBackend
import ParleyServiceKit

/// offline-svc's settings.
public enum OfflineSettings {
    public static let streamMaxEntries = Setting("stream-max-entries", .integer(1...10_000_000), default: "10000",
        help: "entries kept per user stream; older ones are trimmed (a prefix) as new ones arrive")
    public static let streamRetention = Setting("stream-retention", .duration, default: "720h",
        help: "stream entries older than this are trimmed (a prefix) as new ones arrive or a device syncs")
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

    public static let all: [Setting] = CommonSettings.kafka + RedisSettings.all + CommonSettings.process(adminPort: 9103)
        + [streamMaxEntries, streamRetention, maxDevices, syncPageEntries, syncPageBytes, maxSubscriptions, groupReceiptsMax]
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

    public init(values: SettingValues) throws {
        common = try CommonConfiguration(values: values, clientID: Self.serviceName)
        redis = try RedisSettingsConfiguration(values: values)
        streams = StreamPolicy(maxEntries: values.int(OfflineSettings.streamMaxEntries),
                               retention: values.duration(OfflineSettings.streamRetention),
                               maxDevices: values.int(OfflineSettings.maxDevices),
                               pageEntries: values.int(OfflineSettings.syncPageEntries),
                               pageBytes: values.int(OfflineSettings.syncPageBytes),
                               maxSubscriptions: values.int(OfflineSettings.maxSubscriptions))
        groupReceiptsMax = values.int(OfflineSettings.groupReceiptsMax)
        guard streams.retention >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_STREAM_RETENTION: must be at least 1s")
        }
    }
}
