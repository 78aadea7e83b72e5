import ParleyBackend
import ParleyServiceKit

/// presence-svc's settings.
public enum PresenceSettings {
    public static let edgeTimeout = Setting("edge-timeout", .duration, default: "15s",
        help: "an edge silent this long is dead: all its sessions are removed")
    public static let sweepInterval = Setting("sweep-interval", .duration, default: "1s",
        help: "how often dead edges are looked for")
    public static let maxUserSessions = Setting("max-user-sessions", .integer(1...10_000),
        default: "\(PresenceConfiguration.defaultMaxUserSessions)",
        help: "sessions one user may hold across all edges; a new session beyond it closes the user's oldest with 1008 replaced")
    public static let deliverTopicGrace = Setting("deliver-topic-grace", .duration,
        default: "\(Int(TopicSetup.deliverRetention)! / 1000)s",
        help: "a dead edge's deliver topic is deleted this long after its last heartbeat (default: the topic's retention)")

    public static let all: [Setting] = CommonSettings.kafka + RedisSettings.all + CommonSettings.process(adminPort: 9102)
        + [edgeTimeout, sweepInterval, maxUserSessions, deliverTopicGrace]
}

/// presence-svc's configuration.
public struct PresenceConfiguration: ServiceConfiguration {
    public static let serviceName = "presence-svc"
    public static let summary = "keeps who is online on which edge in Redis and publishes presence changes"
    public static var settings: [Setting] { PresenceSettings.all }

    public var common: CommonConfiguration
    public var redis: RedisSettingsConfiguration
    public var edgeTimeout: Duration
    public var sweepInterval: Duration
    public var maxUserSessions: Int
    /// The default of `--max-user-sessions`.
    public static let defaultMaxUserSessions = 10
    public var deliverTopicGrace: Duration

    public init(values: SettingValues) throws {
        common = try CommonConfiguration(values: values, clientID: Self.serviceName)
        redis = try RedisSettingsConfiguration(values: values)
        edgeTimeout = values.duration(PresenceSettings.edgeTimeout)
        sweepInterval = values.duration(PresenceSettings.sweepInterval)
        maxUserSessions = values.int(PresenceSettings.maxUserSessions)
        deliverTopicGrace = values.duration(PresenceSettings.deliverTopicGrace)
        guard edgeTimeout >= .seconds(1), sweepInterval >= .milliseconds(10) else {
            throw ConfigurationError("invalid PARLEY_EDGE_TIMEOUT or PARLEY_SWEEP_INTERVAL: at least 1s and 10ms")
        }
        guard deliverTopicGrace >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_DELIVER_TOPIC_GRACE: at least 1s")
        }
    }
}
