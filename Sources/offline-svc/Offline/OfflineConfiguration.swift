import ParleyBackend
import ParleyServiceKit

/// offline-svc's settings.
public enum OfflineSettings {
    public static let inboxMax = Setting("inbox-max", .integer(1...10_000_000), default: "10000",
        help: "pending messages kept per user; when full the oldest are dropped (and counted)")
    public static let inboxRetention = Setting("inbox-retention", .duration, default: "720h",
        help: "pending messages older than this are dropped")
    public static let replayBatch = Setting("replay-batch", .integer(1...10_000), default: "200",
        help: "messages per replay record sent to an edge")

    public static let all: [Setting] = CommonSettings.kafka + RedisSettings.all + CommonSettings.process(httpPort: 9103)
        + [inboxMax, inboxRetention, replayBatch]
}

/// offline-svc's configuration.
public struct OfflineConfiguration: ServiceConfiguration {
    public static let serviceName = "offline-svc"
    public static let summary = "store-and-forward inbox: keeps every unacked message and replays it on connect"
    public static var settings: [Setting] { OfflineSettings.all }

    public var common: CommonConfiguration
    public var redis: RedisSettingsConfiguration
    public var inboxMax: Int
    public var inboxRetention: Duration
    public var replayBatch: Int

    public init(values: SettingValues) throws {
        common = try CommonConfiguration(values: values, clientID: Self.serviceName)
        redis = try RedisSettingsConfiguration(values: values)
        inboxMax = values.int(OfflineSettings.inboxMax)
        inboxRetention = values.duration(OfflineSettings.inboxRetention)
        replayBatch = values.int(OfflineSettings.replayBatch)
    }
}
