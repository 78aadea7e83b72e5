import Logging
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit

/// This edge's `chat.deliver.<edge>`: every loop gets the batch's envelopes and writes them to
/// the addressed sessions it holds; answers to server API requests go to their waiting
/// requests. Runs on the consumer's thread: it only decodes and hands over to the event loops'
/// outboxes and the waiting requests, never blocks.
struct DeliverSink: KafkaRecordSink {
    let hub: SessionHub
    /// Answers addressed to the server API's requests rather than to sessions.
    let answers: APIAnswers
    let logger: Logger

    func receive(_ records: [KafkaRecord], status: KafkaConsumerStatus) {
        let envelopes = BatchedRecords.decode(DeliverEnvelope.self, records) { record, error in
            logger.error("dropping malformed deliver record", metadata: ["parley.offset": "\(record.offset)", "parley.error": "\(error)"])
        }
        guard !envelopes.isEmpty else { return }
        answers.receive(envelopes)
        if envelopes.contains(where: \.resync) {
            logger.warning("presence-svc asked for a resync, reporting every session again")
        }
        hub.broadcast(.deliver(envelopes))
    }
}

/// `presence.changes`: every loop tells its sessions watching a user when that user comes
/// online or goes offline (with when it was last seen).
struct PresenceChangesSink: KafkaRecordSink {
    let hub: SessionHub

    func receive(_ records: [KafkaRecord], status: KafkaConsumerStatus) {
        let changes = records.compactMap { record -> PresenceStatus? in
            guard let change = try? Envelope.decode(PresenceChange.self, from: record.value), change.transition else { return nil }
            return PresenceStatus(user: change.user, status: change.status, lastSeen: change.lastSeen)
        }
        guard !changes.isEmpty else { return }
        hub.broadcast(.presence(changes))
    }
}
