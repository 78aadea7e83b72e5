import Logging
import Metrics
import ParleyKafka
import ParleyProtocol

/// Decodes input records and logs and counts (`parley_malformed_records_total`) the ones that
/// can never be handled, so a bad record is dropped instead of stopping its consumer.
struct MalformedRecords: Sendable {
    let logger: Logger
    private let counter = Counter(label: "parley_malformed_records_total", dimensions: [("service", "offline-svc")])

    init(logger: Logger) { self.logger = logger }

    /// The envelopes of `records`, in order: each record holds an ``EnvelopeBatch`` of them or one envelope.
    func decode<T: WireObject>(_ type: T.Type, _ records: [KafkaRecord]) -> [T] {
        records.flatMap { record -> [T] in
            if let batch = try? Envelope.decode(EnvelopeBatch<T>.self, from: record.value) { return batch.items }
            do {
                return [try Envelope.decode(T.self, from: record.value)]
            } catch {
                drop(record, error)
                return []
            }
        }
    }

    /// Logs and counts a record that cannot be handled.
    func drop(_ record: KafkaRecord, _ error: any Error) {
        counter.increment()
        logger.error("dropping malformed record", metadata: ["parley.topic": "\(record.topic)",
                                                            "parley.offset": "\(record.offset)", "parley.error": "\(error)"])
    }

    /// Logs and counts an envelope that decoded but breaks the contract (a missing field).
    func drop<T>(_ envelope: T, _ reason: String) {
        counter.increment()
        logger.error("dropping malformed envelope", metadata: ["parley.reason": "\(reason)", "parley.envelope": "\(envelope)"])
    }
}
