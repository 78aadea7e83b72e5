import ParleyBackend
import ParleyServiceKit

/// relay-svc's settings.
public enum RelaySettings {
    public static let dedupTTL = Setting("dedup-ttl", .duration, default: "24h",
        help: "how long a (sender, client id) pair is remembered to drop client retries")
    public static let conversationMaxEntries = Setting("conversation-max-entries", .integer(1...1_000_000_000), default: "100000",
        help: "messages kept per conversation log; older ones are trimmed (history ends there)")
    public static let conversationRetention = Setting("conversation-retention", .duration, default: "2160h",
        help: "messages stored longer ago than this are trimmed from conversation logs")
    public static let maxGroupMembers = Setting("max-group-members", .integer(1...100_000), default: "1000",
        help: "most members of a group; a create or add beyond it is refused with too_large")
    public static let maxGroupsPerUser = Setting("max-groups-per-user", .integer(1...1_000_000), default: "500",
        help: "most groups a user is a member of; a create or add beyond it is refused with forbidden (a soft bound)")
    public static let typingMaxMembers = Setting("typing-max-members", .integer(2...100_000), default: "100",
        help: "largest group whose typing signals are relayed; in bigger groups typing is dropped")
    public static let batchSize = Setting("batch-size", .integer(1...10_000), default: "500",
        help: "most records routed per batch (one Redis pipeline and one produce batch each)")

    public static let all: [Setting] = CommonSettings.kafka + RedisSettings.all + CommonSettings.process(adminPort: 9101)
        + [dedupTTL, conversationMaxEntries, conversationRetention, maxGroupMembers, maxGroupsPerUser, typingMaxMembers, batchSize]
}

/// How much of each conversation log is kept: at most `maxEntries` messages, none stored
/// longer ago than `age`.
public struct ConversationRetention: Sendable, Equatable {
    public var maxEntries: Int
    public var age: Duration

    public init(maxEntries: Int, age: Duration) {
        self.maxEntries = maxEntries
        self.age = age
    }
}

/// The bounds of groups: members per group, groups per user.
public struct GroupLimits: Sendable, Equatable {
    public var maxMembers: Int
    public var maxGroupsPerUser: Int

    public init(maxMembers: Int, maxGroupsPerUser: Int) {
        self.maxMembers = maxMembers
        self.maxGroupsPerUser = maxGroupsPerUser
    }
}

/// relay-svc's configuration.
public struct RelayConfiguration: ServiceConfiguration {
    public static let serviceName = "relay-svc"
    public static let summary = "orders each conversation's messages, stores them in its log and fans them out to the members' streams"
    public static var settings: [Setting] { RelaySettings.all }

    public var common: CommonConfiguration
    public var redis: RedisSettingsConfiguration
    public var dedupTTL: Duration
    public var retention: ConversationRetention
    public var groupLimits: GroupLimits
    public var typingMaxMembers: Int
    public var batchSize: Int

    public init(values: SettingValues) throws {
        common = try CommonConfiguration(values: values, clientID: Self.serviceName)
        redis = try RedisSettingsConfiguration(values: values)
        dedupTTL = values.duration(RelaySettings.dedupTTL)
        guard dedupTTL >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_DEDUP_TTL: must be at least 1s")
        }
        retention = ConversationRetention(maxEntries: values.int(RelaySettings.conversationMaxEntries),
                                          age: values.duration(RelaySettings.conversationRetention))
        guard retention.age >= .seconds(1) else {
            throw ConfigurationError("invalid PARLEY_CONVERSATION_RETENTION: must be at least 1s")
        }
        groupLimits = GroupLimits(maxMembers: values.int(RelaySettings.maxGroupMembers),
                                  maxGroupsPerUser: values.int(RelaySettings.maxGroupsPerUser))
        typingMaxMembers = values.int(RelaySettings.typingMaxMembers)
        batchSize = values.int(RelaySettings.batchSize)
    }
}
