/// Settings shared by ``KafkaProducer``, ``KafkaConsumer`` and ``KafkaAdmin``.
///
/// Each client sets only the librdkafka properties that apply to its role, then applies
/// ``properties`` last, so any librdkafka property can be overridden there.
public struct KafkaConfiguration: Sendable {
    /// Bootstrap brokers, `"127.0.0.1:9092,127.0.0.1:9093"` (librdkafka `bootstrap.servers`).
    public var brokers: String
    /// Client id reported to the broker and attached to log lines (`client.id`).
    public var clientID: String
    /// Consumer-group session timeout (`session.timeout.ms`; `heartbeat.interval.ms` is set to a
    /// third of it). A group's first join takes about half of it on Tansu. Default 6 s.
    public var sessionTimeout: Duration = .seconds(6)
    /// Producer `message.timeout.ms`: a record not acknowledged within this time (e.g. the broker
    /// is down) fails with ``KafkaError/Code/messageTimedOut``. Default 10 s.
    public var messageTimeout: Duration = .seconds(10)
    /// Latency over throughput. When true (the default) sets `socket.nagle.disable=true` on
    /// every client and `fetch.wait.max.ms=10` on consumers; when false librdkafka's defaults
    /// apply (Nagle on, 500 ms fetch wait).
    public var lowLatency: Bool = true
    /// How long a producer gathers records into one batch before sending it (`linger.ms`). Nil
    /// means librdkafka's default (5 ms). A broker pays per batch it stores and serves, so a
    /// longer linger trades latency on an idle broker for less broker work under load.
    public var linger: Duration? = nil
    /// A consumer's `fetch.wait.max.ms`: how long the broker may hold a fetch that finds nothing
    /// new. Nil means 10 ms with ``lowLatency``, librdkafka's 500 ms without. Consumers off the
    /// message path use a longer wait (``background``): an idle fetch loop every 10 ms costs the
    /// broker (Tansu: ~3 % of a core per consumer).
    public var fetchWait: Duration? = nil
    /// How many fetched records a consumer keeps ready for ``KafkaConsumer/nextBatch(maxCount:)``;
    /// when full, the consumer stops polling librdkafka until the application catches up.
    public var consumerBufferSize: Int = 2048
    /// How long a consumer waits for a skipped offset to become readable before it moves past
    /// the hole (see ``KafkaConsumer``: offsets are handed out without gaps). Default 2 s.
    public var offsetGapTimeout: Duration = .seconds(2)
    /// Authentication and encryption towards the brokers (default: plaintext, none).
    public var security: KafkaSecurity = .plaintext
    /// Extra librdkafka properties (see librdkafka's CONFIGURATION.md), applied last: they
    /// override everything above.
    public var properties: [String: String] = [:]

    /// A configuration with the defaults described on each property.
    public init(brokers: String, clientID: String) {
        self.brokers = brokers
        self.clientID = clientID
    }

    /// This configuration for a consumer off the message path (e.g. acks, presence for watchers):
    /// with ``lowLatency``, fetches that find nothing wait up to 100 ms at the broker instead of
    /// 10 ms; an explicit ``fetchWait`` or librdkafka's default (without ``lowLatency``) stays.
    public var background: KafkaConfiguration {
        var copy = self
        if copy.fetchWait == nil, lowLatency { copy.fetchWait = .milliseconds(100) }
        return copy
    }

    var commonProperties: [(String, String)] {
        var result = [("bootstrap.servers", brokers), ("client.id", clientID)]
        if lowLatency { result.append(("socket.nagle.disable", "true")) }
        return result + security.properties
    }

    var producerProperties: [(String, String)] {
        var result = commonProperties
        result += [
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("message.timeout.ms", String(messageTimeout.milliseconds)),
            // Parley creates every topic explicitly; a typo must not create a topic.
            ("allow.auto.create.topics", "false"),
            // A send to a missing topic fails as unknown-topic within half the message timeout
            // (librdkafka's default waits 30 s, so it would end as a plain message timeout).
            ("topic.metadata.propagation.max.ms", String(min(30_000, max(1, messageTimeout.milliseconds / 2)))),
        ]
        if let linger { result.append(("linger.ms", String(linger.milliseconds))) }
        return result + properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    func consumerProperties(groupID: String, autoOffsetReset: String) -> [(String, String)] {
        var result = commonProperties
        let session = sessionTimeout.milliseconds
        result += [
            ("group.id", groupID),
            ("session.timeout.ms", String(session)),
            ("heartbeat.interval.ms", String(max(100, session / 3))),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", autoOffsetReset),
            ("allow.auto.create.topics", "false"),
        ]
        if let fetchWait {
            result.append(("fetch.wait.max.ms", String(fetchWait.milliseconds)))
        } else if lowLatency {
            result.append(("fetch.wait.max.ms", "10"))
        }
        return result + properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    var adminProperties: [(String, String)] {
        commonProperties + properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, clamped to Int32 range (librdkafka's timeouts are ints).
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let ms = seconds.multipliedReportingOverflow(by: 1000)
        if ms.overflow { return seconds < 0 ? 0 : Int(Int32.max) }
        return Int(max(0, min(Int64(Int32.max), ms.partialValue + attoseconds / 1_000_000_000_000_000)))
    }
}
