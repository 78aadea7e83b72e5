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
    let traces: EdgeTraces
    let logger: Logger
    let dropped: DroppedRecords

    func receive(_ records: [KafkaRecord], status: KafkaConsumerStatus) {
        let envelopes = BatchedRecords.decode(DeliverEnvelope.self, records, malformed: dropped.drop)
        guard !envelopes.isEmpty else { return }
        answers.receive(envelopes)
        if envelopes.contains(where: \.resync) {
            logger.warning("presence-svc asked for a resync, reporting every session again")
        }
        traces.delivered(to: envelopes.lazy.filter { !$0.entries.isEmpty }.map(\.user))
        if logger.logLevel <= .debug { logEntries(envelopes) }
        hub.broadcast(.deliver(envelopes))
    }

    /// One debug line per message entry the edge is about to write.
    private func logEntries(_ envelopes: [DeliverEnvelope]) {
        for envelope in envelopes where envelope.page == nil {
            for entry in envelope.entries where entry.kind == .message {
                logger.debug("writing", metadata: [
                    "parley.msg": "\(entry.msg ?? "")", "parley.conv": "\(entry.conv)", "parley.seq": "\(entry.seq)",
                    "parley.user": "\(envelope.user)",
                ])
            }
        }
    }
}

/// `presence.changes`: every loop tells its sessions watching a user when that user comes
/// online or goes offline (with when it was last seen).
struct PresenceChangesSink: KafkaRecordSink {
    let hub: SessionHub
    let dropped: DroppedRecords

    func receive(_ records: [KafkaRecord], status: KafkaConsumerStatus) {
        let changes = records.compactMap { record -> PresenceStatus? in
            let change: PresenceChange
            do {
                change = try Envelope.decode(PresenceChange.self, from: record.value)
            } catch {
                dropped.drop(record, error)
                return nil
            }
            return change.transition ? PresenceStatus(user: change.user, status: change.status, lastSeen: change.lastSeen) : nil
        }
        guard !changes.isEmpty else { return }
        hub.broadcast(.presence(changes))
    }
}
