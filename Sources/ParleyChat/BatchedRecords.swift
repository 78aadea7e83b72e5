import ParleyKafka
import ParleyProtocol

/// Kafka records that each carry an ``EnvelopeBatch``.
public enum BatchedRecords {
    /// Most bytes of one batched record, well below the brokers' default 1 MB record limit.
    public static let maxBytes = 256 * 1024

    /// Records of `items` for `topic` (no key: these topics need no per-key order).
    public static func make<T: WireObject>(_ items: [T], topic: String) -> [KafkaOutgoingRecord] {
        Envelope.encodeBatches(items, maxBytes: maxBytes).map { KafkaOutgoingRecord(topic: topic, key: nil, value: $0) }
    }

    /// The items of batched records, in order; malformed records (and items with malformed ids,
    /// one call each) are passed to `malformed`. With `orSingle`, a record that is not a batch may
    /// be one envelope (older producers of that topic wrote them so).
    public static func decode<T: WireObject>(
        _ type: T.Type, _ records: [KafkaRecord], orSingle: Bool = false, malformed: (KafkaRecord, any Error) -> Void
    ) -> [T] {
        records.flatMap { record -> [T] in
            do {
                let batch = try Envelope.decodeBatch(T.self, from: record.value)
                for error in batch.refused { malformed(record, error) }
                return batch.items
            } catch {
                guard orSingle else {
                    malformed(record, error)
                    return []
                }
                do {
                    return [try Envelope.decode(T.self, from: record.value)]
                } catch {
                    malformed(record, error)
                    return []
                }
            }
        }
    }
}
