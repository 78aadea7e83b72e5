import Logging
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit

/// Where the records of one of the edge's input topics go. `receive` only decodes and hands the
/// result to the event loops' outboxes: it never blocks or waits, so a consumer may call it on
/// whatever thread the records arrive on, its own polling thread included.
protocol RecordSink: Sendable {
    func receive(_ records: [KafkaRecord])
}

/// This edge's `chat.deliver.<edge>`: every loop gets the batch's envelopes and writes them to
/// the addressed sessions it holds.
struct DeliverSink: RecordSink {
    let hub: SessionHub
    let logger: Logger

    func receive(_ records: [KafkaRecord]) {
        let envelopes = BatchedRecords.decode(DeliverEnvelope.self, records) { record, error in
            logger.error("dropping malformed deliver record", metadata: ["parley.offset": "\(record.offset)", "parley.error": "\(error)"])
        }
        guard !envelopes.isEmpty else { return }
        if envelopes.contains(where: \.resync) {
            logger.warning("presence-svc asked for a resync, reporting every session again")
        }
        hub.broadcast(.deliver(envelopes))
    }
}

/// `presence.changes`: every loop tells its sessions watching a user when that user comes
/// online or goes offline.
struct PresenceChangesSink: RecordSink {
    let hub: SessionHub

    func receive(_ records: [KafkaRecord]) {
        let changes = records.compactMap { record -> PresenceStatus? in
            guard let change = try? Envelope.decode(PresenceChange.self, from: record.value), change.transition else { return nil }
            return PresenceStatus(user: change.user, status: change.status)
        }
        guard !changes.isEmpty else { return }
        hub.broadcast(.presence(changes))
    }
}
