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
    public static let kafkaSecurityProtocol = Setting("kafka-security-protocol", .nonEmpty, default: "plaintext",
        help: "plaintext, ssl, sasl_plaintext or sasl_ssl (security.protocol)")
    public static let kafkaSASLMechanism = Setting("kafka-sasl-mechanism", .nonEmpty, default: "SCRAM-SHA-512",
        help: "SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN, with a sasl_* security protocol")
    public static let kafkaSASLUsername = Setting("kafka-sasl-username", .string, default: "",
        help: "this process's Kafka user (a sasl_* security protocol needs one)")
    public static let kafkaSASLPasswordFile = Setting("kafka-sasl-password-file", .string, default: "",
        help: "file holding the Kafka user's password (a secret mount)")
    public static let kafkaSSLCAFile = Setting("kafka-ssl-ca-file", .string, default: "",
        help: "PEM file of the CAs of the brokers' certificates (ssl, sasl_ssl); empty: the system's")
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

    public static let otelEndpoint = Setting("otel-endpoint", .string, default: "",
        help: "OTLP/HTTP collector URL (http://host:4318) that receives trace spans; empty: tracing off",
        redaction: .urlCredentials)

    /// The admin port setting, with the service's own default.
    public static func adminPort(default port: Int) -> Setting {
        Setting("admin-port", .integer(0...65535), default: "\(port)",
                help: "admin server port: /healthz, /readyz, /metrics (0 picks a free one)")
    }

    /// How a process connects to Kafka (``KafkaConfiguration/init(values:clientID:)`` reads them).
    public static let kafkaConnection: [Setting] = [kafkaBrokers, kafkaSessionTimeout, kafkaMessageTimeout, kafkaLowLatency, kafkaLinger,
                                                    kafkaProperties, kafkaSecurityProtocol, kafkaSASLMechanism, kafkaSASLUsername,
                                                    kafkaSASLPasswordFile, kafkaSSLCAFile]
    /// Settings of a process that uses Kafka (all of them).
    public static let kafka: [Setting] = kafkaConnection + [topicPrefix, topicPartitions]
    /// Settings of every process.
    public static func process(adminPort port: Int) -> [Setting] {
        [adminHost, adminPort(default: port)] + HTTPLimitSettings.all + [logLevel, logFormat, otelEndpoint]
    }
}

/// What every service reads from the common settings.
public struct CommonConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    public var topics: Topics
    public var topicPartitions: Int32
    /// Where the admin server listens (internal only: health, readiness, metrics).
    public var adminHost: String
    public var adminPort: Int
    /// The limits of every HTTP port of the process.
    public var httpLimits: HTTPServerLimits
    public var logLevel: LogLevelSetting
    public var logFormat: LogFormat
    /// Where trace spans go (OTLP/HTTP); empty: tracing is off.
    public var otelEndpoint: String
    /// Every setting's effective value, secrets redacted: logged at start.
    public var shownSettings: [(name: String, value: String)]

    public init(values: SettingValues, clientID: String) throws {
        kafka = try KafkaConfiguration(values: values, clientID: clientID)
        topics = Topics(prefix: values.string(CommonSettings.topicPrefix))
        topicPartitions = Int32(values.int(CommonSettings.topicPartitions))
        adminHost = values.string(CommonSettings.adminHost)
        adminPort = values.int(CommonSettings.adminPort(default: 0))
        httpLimits = try HTTPServerLimits(values: values)
        guard let level = LogLevelSetting(rawValue: values.string(CommonSettings.logLevel)) else {
            throw ConfigurationError("invalid PARLEY_LOG_LEVEL=\(values.string(CommonSettings.logLevel)): expected trace, debug, info, notice, warning, error or critical")
        }
        logLevel = level
        guard let format = LogFormat(rawValue: values.string(CommonSettings.logFormat)) else {
            throw ConfigurationError("invalid PARLEY_LOG_FORMAT=\(values.string(CommonSettings.logFormat)): expected text or json")
        }
        logFormat = format
        otelEndpoint = values.string(CommonSettings.otelEndpoint)
        guard otelEndpoint.isEmpty || otelEndpoint.hasPrefix("http://") || otelEndpoint.hasPrefix("https://") else {
            throw ConfigurationError("invalid PARLEY_OTEL_ENDPOINT=\(otelEndpoint): expected an http:// or https:// URL")
        }
        shownSettings = values.shown
    }
}

extension CommonConfiguration {
    /// The Kafka security settings; a bad value or combination throws one line naming it.
}

extension KafkaConfiguration {
    /// The connection ``CommonSettings/kafkaConnection`` describes: brokers, timeouts, extra
    /// properties and security (SASL, TLS). Every service and parley-admin connect this way.
    public init(values: SettingValues, clientID: String) throws {
        self.init(brokers: values.string(CommonSettings.kafkaBrokers), clientID: clientID)
        sessionTimeout = values.duration(CommonSettings.kafkaSessionTimeout)
        messageTimeout = values.duration(CommonSettings.kafkaMessageTimeout)
        lowLatency = values.bool(CommonSettings.kafkaLowLatency)
        linger = values.duration(CommonSettings.kafkaLinger)
        guard let properties = SettingParser.keyValues(values.string(CommonSettings.kafkaProperties)) else {
            throw ConfigurationError("invalid PARLEY_KAFKA_PROPERTIES: expected key=value[,key=value...]")
        }
        self.properties = properties
        security = try Self.security(values)
    }

    static func security(_ values: SettingValues) throws -> KafkaSecurity {
        let protocolName = values.string(CommonSettings.kafkaSecurityProtocol)
        guard let securityProtocol = KafkaSecurity.SecurityProtocol(rawValue: protocolName.uppercased()) else {
            throw ConfigurationError("invalid PARLEY_KAFKA_SECURITY_PROTOCOL=\(protocolName): expected plaintext, ssl, sasl_plaintext or sasl_ssl")
        }
        var sasl: KafkaSecurity.SASL?
        let username = values.string(CommonSettings.kafkaSASLUsername)
        let password = try SecretFile.read(CommonSettings.kafkaSASLPasswordFile, values)
        if !username.isEmpty || password != nil || securityProtocol.usesSASL {
            let mechanismName = values.string(CommonSettings.kafkaSASLMechanism)
            guard let mechanism = KafkaSecurity.Mechanism(rawValue: mechanismName.uppercased()) else {
                throw ConfigurationError("invalid PARLEY_KAFKA_SASL_MECHANISM=\(mechanismName): expected SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN")
            }
            sasl = KafkaSecurity.SASL(mechanism: mechanism, username: username, password: password ?? "")
        }
        let caFile = values.string(CommonSettings.kafkaSSLCAFile)
        let security = KafkaSecurity(securityProtocol: securityProtocol, sasl: sasl, caFile: caFile.isEmpty ? nil : caFile)
        if let problem = security.problem {
            throw ConfigurationError("invalid Kafka security settings (PARLEY_KAFKA_SECURITY_PROTOCOL, PARLEY_KAFKA_SASL_USERNAME, PARLEY_KAFKA_SASL_PASSWORD_FILE, PARLEY_KAFKA_SSL_CA_FILE): \(problem)")
        }
        return security
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
