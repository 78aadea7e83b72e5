import ParleyBackend
import ParleyServiceKit

/// relay-svc's settings.
public enum RelaySettings {
    public static let dedupTTL = Setting("dedup-ttl", .duration, default: "24h",
        help: "how long a (sender, client id) pair is remembered to drop client retries")
    public static let batchSize = Setting("batch-size", .integer(1...10_000), default: "500",
        help: "most records routed per batch (one Redis pipeline and one produce batch each)")

    public static let all: [Setting] = CommonSettings.kafka + RedisSettings.all + CommonSettings.process(httpPort: 9101)
        + [dedupTTL, batchSize]
}

/// relay-svc's configuration.
public struct RelayConfiguration: ServiceConfiguration {
    public static let serviceName = "relay-svc"
    public static let summary = "routes chat.inbound to the recipients' edges and inboxes, acks to receipts"
    public static var settings: [Setting] { RelaySettings.all }

    public var common: CommonConfiguration
    public var redis: RedisSettingsConfiguration
    public var dedupTTL: Duration
    public var batchSize: Int

    public init(values: SettingValues) throws {
        common = try CommonConfiguration(values: values, clientID: Self.serviceName)
        redis = try RedisSettingsConfiguration(values: values)
        dedupTTL = values.duration(RelaySettings.dedupTTL)
        guard dedupTTL >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_DEDUP_TTL: must be at least 1s")
        }
        batchSize = values.int(RelaySettings.batchSize)
    }
}
