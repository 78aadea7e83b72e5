import ParleyKafka
import ParleyProtocol

/// Settings every executable shares.
public enum CommonSettings {
    public static let kafkaBrokers = Setting("kafka-brokers", .nonEmpty, default: "127.0.0.1:9092",
        help: "Kafka bootstrap servers, host:port[,host:port...]")
    public static let kafkaSessionTimeout = Setting("kafka-session-timeout", .duration, default: "6s",
        help: "consumer group session timeout; a group's first join takes about half of it")
    public static let kafkaMessageTimeout = Setting("kafka-message-timeout", .duration, default: "10s",
        help: "how long a produce may wait for the broker before it fails")
    public static let kafkaLowLatency = Setting("kafka-low-latency", .boolean, default: "true",
        help: "Nagle off and fetch.wait.max.ms=10 (false: librdkafka defaults)")
    public static let kafkaLinger = Setting("kafka-linger", .duration, default: "10ms",
        help: "how long producers gather records into one batch (linger.ms); the broker pays per batch")
    public static let kafkaProperties = Setting("kafka-properties", .string, default: "",
        help: "extra librdkafka properties, key=value[,key=value...], applied last", redaction: .whole)
    public static let topicPrefix = Setting("topic-prefix", .string, default: "",
        help: "prefix of every topic name, so several stacks can share a broker")
    public static let topicPartitions = Setting("topic-partitions", .integer(1...1024), default: "8",
        help: "partitions of the shared topics when this process creates them")
    public static let adminHost = Setting("admin-host", .nonEmpty, default: "127.0.0.1",
        help: "address the admin server (/healthz, /readyz, /metrics; ws-edge: the server API) binds to; never route it publicly")
    public static let logLevel = Setting("log-level", .nonEmpty, default: "info",
        help: "trace, debug, info, notice, warning, error or critical")
    public static let logFormat = Setting("log-format", .nonEmpty, default: "text",
        help: "text (one readable line per event) or json (one JSON object per line, UTC millisecond timestamps)")

    /// The admin port setting, with the service's own default.
    public static func adminPort(default port: Int) -> Setting {
        Setting("admin-port", .integer(0...65535), default: "\(port)",
                help: "admin server port: /healthz, /readyz, /metrics (0 picks a free one)")
    }

    /// Settings of a process that uses Kafka (all of them).
    public static let kafka: [Setting] = [kafkaBrokers, kafkaSessionTimeout, kafkaMessageTimeout, kafkaLowLatency, kafkaLinger,
                                          kafkaProperties, topicPrefix, topicPartitions]
    /// Settings of every process.
    public static func process(adminPort port: Int) -> [Setting] { [adminHost, adminPort(default: port), logLevel, logFormat] }
}

/// What every service reads from the common settings.
public struct CommonConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    public var topics: Topics
    public var topicPartitions: Int32
    /// Where the admin server listens (internal only: health, readiness, metrics).
    public var adminHost: String
    public var adminPort: Int
    public var logLevel: LogLevelSetting
    public var logFormat: LogFormat
    /// Every setting's effective value, secrets redacted: logged at start.
    public var shownSettings: [(name: String, value: String)]

    public init(values: SettingValues, clientID: String) throws {
        var kafka = KafkaConfiguration(brokers: values.string(CommonSettings.kafkaBrokers), clientID: clientID)
        kafka.sessionTimeout = values.duration(CommonSettings.kafkaSessionTimeout)
        kafka.messageTimeout = values.duration(CommonSettings.kafkaMessageTimeout)
        kafka.lowLatency = values.bool(CommonSettings.kafkaLowLatency)
        kafka.linger = values.duration(CommonSettings.kafkaLinger)
        guard let properties = SettingParser.keyValues(values.string(CommonSettings.kafkaProperties)) else {
            throw ConfigurationError("invalid PARLEY_KAFKA_PROPERTIES: expected key=value[,key=value...]")
        }
        kafka.properties = properties
        self.kafka = kafka
        topics = Topics(prefix: values.string(CommonSettings.topicPrefix))
        topicPartitions = Int32(values.int(CommonSettings.topicPartitions))
        adminHost = values.string(CommonSettings.adminHost)
        adminPort = values.int(CommonSettings.adminPort(default: 0))
        guard let level = LogLevelSetting(rawValue: values.string(CommonSettings.logLevel)) else {
            throw ConfigurationError("invalid PARLEY_LOG_LEVEL=\(values.string(CommonSettings.logLevel)): expected trace, debug, info, notice, warning, error or critical")
        }
        logLevel = level
        guard let format = LogFormat(rawValue: values.string(CommonSettings.logFormat)) else {
            throw ConfigurationError("invalid PARLEY_LOG_FORMAT=\(values.string(CommonSettings.logFormat)): expected text or json")
        }
        logFormat = format
        shownSettings = values.shown
    }
}

/// How log lines are written.
public enum LogFormat: String, Sendable {
    case text, json
}

/// The log levels, as written in settings.
public enum LogLevelSetting: String, Sendable {
    case trace, debug, info, notice, warning, error, critical
}
