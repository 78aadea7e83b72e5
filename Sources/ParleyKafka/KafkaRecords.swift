/// A record to send.
public struct KafkaOutgoingRecord: Sendable {
    /// The topic; it must exist (topics are never auto-created).
    public var topic: String
    /// The record key; records with the same key go to the same partition. `nil` spreads
    /// records over partitions.
    public var key: [UInt8]?
    /// The record value.
    public var value: [UInt8]
    /// An explicit partition, or `nil` to let the key choose (librdkafka's default partitioner).
    public var partition: Int32?
    /// The record's headers, in order.
    public var headers: [KafkaHeader]

    /// A record with a binary key.
    public init(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil, headers: [KafkaHeader] = []) {
        self.topic = topic
        self.key = key
        self.value = value
        self.partition = partition
        self.headers = headers
    }

    /// A record whose key is the UTF-8 bytes of a string. (Disfavored so that `key: nil`
    /// picks the binary initializer instead of being ambiguous.)
    @_disfavoredOverload
    public init(topic: String, key: String?, value: [UInt8], partition: Int32? = nil, headers: [KafkaHeader] = []) {
        self.init(topic: topic, key: key.map { Array($0.utf8) }, value: value, partition: partition, headers: headers)
    }
}

/// A record read by a ``KafkaConsumer``.
public struct KafkaRecord: Sendable {
    /// The topic the record was read from.
    public let topic: String
    /// The partition within ``topic``.
    public let partition: Int32
    /// The record's offset within its partition.
    public let offset: Int64
    /// `nil` when the record has no key.
    public let key: [UInt8]?
    /// The value; empty for a record with an empty or null value.
    public let value: [UInt8]
    /// Milliseconds since the epoch (create or log-append time), when the broker reports one.
    public let timestamp: Int64?
    /// The record's headers, in order (empty when it has none).
    public let headers: [KafkaHeader]

    /// Creates a record (the consumer does; tests and fakes may too).
    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], timestamp: Int64?,
                headers: [KafkaHeader] = []) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers
    }
}

/// Where an acknowledged record was stored.
public struct KafkaDelivery: Sendable, Hashable {
    /// The topic the record was written to.
    public let topic: String
    /// The partition the record was written to.
    public let partition: Int32
    /// The record's offset within that partition.
    public let offset: Int64
}

/// Where a manually assigned partition starts reading.
public enum KafkaStartOffset: Sendable, Hashable {
    /// The oldest record still in the partition.
    case beginning
    /// Only records produced after the consumer started (the high watermark at start).
    case end
    /// This exact offset.
    case offset(Int64)
}

/// A topic to create with ``KafkaAdmin/createTopics(_:timeout:)``.
public struct KafkaTopicSpec: Sendable {
    /// The topic name.
    public var name: String
    /// The number of partitions.
    public var partitions: Int32
    /// Copies of each partition (1 on a single broker such as the local Tansu).
    public var replicationFactor: Int16
    /// Topic configuration, e.g. `["retention.ms": "60000"]`.
    public var config: [String: String]

    /// A topic specification.
    public init(name: String, partitions: Int32 = 1, replicationFactor: Int16 = 1, config: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.config = config
    }
}

struct TopicPartition: Hashable, Sendable {
    let topic: String
    let partition: Int32
}
