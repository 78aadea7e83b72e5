import Logging
import Metrics
import ParleyKafka
import ParleyProtocol

/// Logs (one line) and counts the Kafka records a consumer drops because it can never handle
/// them: `parley_malformed_records_total{service,topic,reason}`. The reason is the read's
/// failure (`syntax`, `shape`, `missing`, `duplicate`, `invalid_id`: an id that is not
/// well-formed, docs/security.md) or `contract` (read, but breaks a rule of its topic).
public struct DroppedRecords: Sendable {
    private let service: String
    private let logger: Logger
    private let metrics: any MetricsFactory

    /// `metrics` makes the counters (tests pass their own).
    public init(service: String, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.service = service
        self.logger = logger
        self.metrics = metrics
    }

    /// Drops `record`, which could not be read (or broke its topic's contract: `error` says how).
    public func drop(_ record: KafkaRecord, _ error: any Error) {
        drop(topic: record.topic, reason: Self.reason(of: error), [
            "parley.partition": "\(record.partition)", "parley.offset": "\(record.offset)", "parley.error": "\(error)",
        ])
    }

    /// Drops an envelope of `topic` that was read but breaks its topic's contract.
    public func drop(topic: String, contract problem: String) {
        drop(topic: topic, reason: "contract", ["parley.error": "\(problem)"])
    }

    private func drop(topic: String, reason: String, _ metadata: Logger.Metadata) {
        Counter(label: "parley_malformed_records_total", dimensions: [("service", service), ("topic", topic), ("reason", reason)],
                factory: metrics).increment()
        logger.error("dropping record", metadata: metadata.merging(["parley.topic": "\(topic)", "parley.reason": "\(reason)"]) { $1 })
    }

    static func reason(of error: any Error) -> String {
        guard let error = error as? WireError else { return "contract" }
        return switch error.code {
        case .syntax: "syntax"
        case .shape: "shape"
        case .missing: "missing"
        case .duplicate: "duplicate"
        case .invalidID: "invalid_id"
        }
    }
}
