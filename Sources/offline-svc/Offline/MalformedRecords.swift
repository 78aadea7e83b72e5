import Logging
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
        records.flatMap { record -> [T] in
            if let batch = try? Envelope.decodeBatch(T.self, from: record.value) {
                for error in batch.refused { dropped.drop(record, error) }
                return batch.items
            }
            do {
                return [try Envelope.decode(T.self, from: record.value)]
            } catch {
                dropped.drop(record, error)
                return []
            }
        }
    }

    /// Drops an envelope of `topic` that decoded but breaks the contract (a missing field).
    func drop<T>(_ envelope: T, _ reason: String, topic: String) {
        dropped.drop(topic: topic, contract: "\(reason): \(envelope)")
    }
}
