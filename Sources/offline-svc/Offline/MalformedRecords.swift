import Logging
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit

/// Decodes input records and drops (logs and counts, ``DroppedRecords``) the ones that can
/// never be handled, so a bad record is dropped instead of stopping its consumer.
struct MalformedRecords: Sendable {
    private let dropped: DroppedRecords

    init(logger: Logger) { dropped = DroppedRecords(service: "offline-svc", logger: logger) }

    /// The envelopes of `records`, in order: each record holds an ``EnvelopeBatch`` of them or one envelope.
    func decode<T: WireObject>(_ type: T.Type, _ records: [KafkaRecord]) -> [T] {
        BatchedRecords.decode(type, records, orSingle: true, malformed: dropped.drop)
    }

    /// Drops an envelope of `topic` that decoded but breaks the contract (a missing field).
    func drop<T>(_ envelope: T, _ reason: String, topic: String) {
        dropped.drop(topic: topic, contract: "\(reason): \(envelope)")
    }
}
