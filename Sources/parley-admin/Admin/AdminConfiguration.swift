import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

/// What `parley-admin` reads: the broker and topics the services use, and their Redis.
public struct AdminConfiguration: SettingsConfiguration {
    public static let serviceName = "parley-admin"
    public static let summary = "where a message is, read from Kafka and Redis: parley-admin trace <msg id> [options]"
    public static let settings: [Setting] = CommonSettings.kafkaConnection + [CommonSettings.topicPrefix] + RedisSettings.all

    public var kafka: KafkaConfiguration
    public var topics: Topics
    public var redis: RedisConfiguration

    public init(values: SettingValues) throws {
        kafka = try KafkaConfiguration(values: values, clientID: Self.serviceName)
        topics = Topics(prefix: values.string(CommonSettings.topicPrefix))
        redis = try RedisSettingsConfiguration(values: values).redis
    }
}
