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
    public static let messageRequestLimit = Setting("message-request-limit", .integer(0...1_000_000), default: "5",
        help: "most dm messages to a user who never replied in that conversation (a message request); more are refused with quota_exceeded (0: no limit)")
    public static let sendQuotaPerMinute = Setting("send-quota-per-minute", .integer(0...1_000_000_000), default: "10000",
        help: "most deliveries a user's sends make per minute (a group message counts each other member); more are refused with quota_exceeded (0: no limit)")
    public static let sendQuotaPerDay = Setting("send-quota-per-day", .integer(0...1_000_000_000), default: "200000",
        help: "most deliveries a user's sends make per day (UTC); more are refused with quota_exceeded (0: no limit)")
    public static let batchSize = Setting("batch-size", .integer(1...10_000), default: "500",
        help: "most records routed per batch (one Redis pipeline and one produce batch each)")

    public static let all: [Setting] = CommonSettings.kafka + RedisSettings.all + CommonSettings.process(adminPort: 9101)
        + [dedupTTL, conversationMaxEntries, conversationRetention, maxGroupMembers, maxGroupsPerUser, typingMaxMembers,
           messageRequestLimit, sendQuotaPerMinute, sendQuotaPerDay, batchSize]
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

/// What relay-svc admits of a user's sends: the message request limit (0: none) and the send
/// quotas.
public struct AdmissionLimits: Sendable, Equatable {
    public var messageRequestLimit: Int
    public var quotas: SendQuotas

    public init(messageRequestLimit: Int, quotas: SendQuotas) {
        self.messageRequestLimit = messageRequestLimit
        self.quotas = quotas
    }

    /// No message request limit, no quotas.
    public static let none = AdmissionLimits(messageRequestLimit: 0, quotas: .none)
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
    public var admissionLimits: AdmissionLimits
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
        let quotas = SendQuotas(perMinute: values.int(RelaySettings.sendQuotaPerMinute), perDay: values.int(RelaySettings.sendQuotaPerDay))
        // One message to the largest group must fit in each window, or its members could never be written to.
        for (limit, name) in [(quotas.perMinute, "PARLEY_SEND_QUOTA_PER_MINUTE"), (quotas.perDay, "PARLEY_SEND_QUOTA_PER_DAY")]
        where limit != 0 && limit < groupLimits.maxMembers {
            throw ConfigurationError("invalid \(name): must be 0 or at least PARLEY_MAX_GROUP_MEMBERS (\(groupLimits.maxMembers))")
        }
        admissionLimits = AdmissionLimits(messageRequestLimit: values.int(RelaySettings.messageRequestLimit), quotas: quotas)
        batchSize = values.int(RelaySettings.batchSize)
    }
}
