import Logging
import ParleyKafka
import ParleyProtocol
import Synchronization

/// Reads every partition of `chat.inbound` from the oldest record still retained to its end and
/// returns the send of one message id.
struct InboundSearch {
    /// Where the send was found.
    struct Found: Sendable {
        let record: KafkaRecord
        let envelope: InboundEnvelope
    }

    let kafka: KafkaConfiguration
    let topic: String
    let logger: Logger
    /// How long reading to the end may take before the search gives up.
    var timeout: Duration = .seconds(60)

    /// The send of `msg`; nil when no retained record holds it.
    func find(_ msg: String) async throws -> Found? {
        let partitions = try await partitionCount()
        let consumer = try KafkaConsumer(configuration: kafka,
                                         assignments: (0..<partitions).map { (topic, $0, .beginning) },
                                         logger: logger)
        let received = ReceivedFlag()
        return try await withThrowingTaskGroup(of: Found?.self) { group in
            group.addTask {
                await consumer.run()
                return nil
            }
            // Once a batch arrived, the reader decides: after each batch, a lag of 0 (it counts
            // what is buffered too) means it has seen every record.
            group.addTask {
                while let batch = try await consumer.nextBatch(maxCount: 1000) {
                    received.value.store(true, ordering: .relaxed)
                    if let found = batch.lazy.compactMap({ Self.send(of: msg, in: $0) }).first { return found }
                    if consumer.lag == 0 { return nil }
                }
                return nil
            }
            // An empty topic never delivers a batch: its lag of 0 ends the search.
            group.addTask { [timeout] in
                let deadline = ContinuousClock.now + timeout
                while ContinuousClock.now < deadline {
                    if !received.value.load(ordering: .relaxed), consumer.lag == 0 { return nil }
                    try await Task.sleep(for: .milliseconds(100))
                }
                throw AdminError(.kafka, "reading \(topic) to its end took longer than \(timeout)")
            }
            defer { group.cancelAll() }
            let found = try await group.next() ?? nil
            await consumer.shutdown()
            return found
        }
    }

    private func partitionCount() async throws -> Int32 {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        do {
            let count = try await admin.partitionCount(of: topic, timeout: .seconds(10))
            await admin.shutdown()
            return count
        } catch {
            await admin.shutdown()
            throw error
        }
    }

    /// The send of `msg` in `record`, if it is one.
    static func send(of msg: String, in record: KafkaRecord) -> Found? {
        guard let envelope = try? Envelope.decode(InboundEnvelope.self, from: record.value), envelope.message?.msg == msg else {
            return nil
        }
        return Found(record: record, envelope: envelope)
    }
}

/// Whether the search's reader got a batch yet (shared by its tasks).
private final class ReceivedFlag: Sendable {
    let value = Atomic<Bool>(false)
}
