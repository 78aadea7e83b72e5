import CRDKafka

/// An error from the Kafka client: a librdkafka error code, a human-readable message and,
/// optionally, the error that caused it.
public struct KafkaError: Error, CustomStringConvertible {
    /// A librdkafka error code (`rd_kafka_resp_err_t`): negative values are client-side
    /// ("local") errors, positive values are Kafka protocol errors from the broker.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The raw `rd_kafka_resp_err_t` value.
        public let rawValue: Int32

        /// Wraps a raw `rd_kafka_resp_err_t` value.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        init(_ err: rd_kafka_resp_err_t) { rawValue = err.rawValue }

        /// librdkafka's symbolic name, e.g. `_MSG_TIMED_OUT` or `UNKNOWN_TOPIC_OR_PART`.
        public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: rawValue))) }

        /// librdkafka's human-readable text for the code.
        public var text: String { String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: rawValue))) }

        public var description: String { name }

        /// The record was not acknowledged within `message.timeout.ms` (e.g. the broker is down).
        public static let messageTimedOut = Code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
        /// The producer's local queue stayed full.
        public static let queueFull = Code(RD_KAFKA_RESP_ERR__QUEUE_FULL)
        /// The client was shut down (or is shutting down).
        public static let shutDown = Code(RD_KAFKA_RESP_ERR__DESTROY)
        /// An operation did not finish within its timeout.
        public static let timedOut = Code(RD_KAFKA_RESP_ERR__TIMED_OUT)
        /// A configuration value or argument was rejected.
        public static let invalidArgument = Code(RD_KAFKA_RESP_ERR__INVALID_ARG)
        /// The loaded librdkafka lacks something this library needs (e.g. it is too old).
        public static let unsupportedFeature = Code(RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE)
        /// The topic is not known to the client (local).
        public static let unknownTopic = Code(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        /// The broker does not know the topic or partition.
        public static let unknownTopicOrPartition = Code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        /// The topic already exists (CreateTopics).
        public static let topicAlreadyExists = Code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        /// The client hit a fatal error and cannot continue.
        public static let fatal = Code(RD_KAFKA_RESP_ERR__FATAL)
        /// The operation is not valid in the client's current state.
        public static let state = Code(RD_KAFKA_RESP_ERR__STATE)
    }

    /// What went wrong, as a librdkafka error code.
    public let code: Code
    /// A short explanation, naming the topic or setting involved where there is one.
    public let message: String
    /// The error that caused this one, if any.
    public let underlying: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    init(_ err: rd_kafka_resp_err_t, _ message: String) {
        self.init(code: Code(err), message: message)
    }

    public var description: String {
        var text = "\(message) (\(code.name): \(code.text))"
        if let underlying { text += "; caused by: \(underlying)" }
        return text
    }
}

extension KafkaError {
    static func shutDown(_ what: String) -> KafkaError {
        KafkaError(code: .shutDown, message: "\(what): the client has been shut down")
    }
}
