import ParleyChat
import ParleyKafka
import ParleyProtocol

/// What offline-svc sends to edges (`chat.deliver.<edge>`): live entries for subscribed
/// sessions and answers for one session, collected in order and sent as one batched record
/// per edge (``BatchedRecords``). Consecutive live entries of one user for the same sessions
/// share an envelope.
struct EdgeDeliveries: Sendable {
    private var edges: [String] = []
    private var envelopes: [String: [DeliverEnvelope]] = [:]

    var isEmpty: Bool { edges.isEmpty }

    /// `entry` (with its seq in `epoch`) for `user`'s subscribed sessions, one envelope per edge.
    mutating func add(_ entry: StreamEntry, user: String, epoch: String, to subscribers: [Subscriber]) {
        var sessions: [String: [String]] = [:]
        for subscriber in subscribers { sessions[subscriber.edge, default: []].append(subscriber.session) }
        for (edge, onEdge) in sessions.sorted(by: { $0.key < $1.key }) {
            let addressed = onEdge.sorted()
            if let last = envelopes[edge]?.indices.last, envelopes[edge]![last].isLive(of: user, for: addressed, epoch: epoch) {
                envelopes[edge]![last].entries.append(entry)
            } else {
                add(DeliverEnvelope(user: user, sessions: addressed, entries: [entry], epoch: epoch), edge: edge)
            }
        }
    }

    /// An answer (or any envelope) for `edge`.
    mutating func add(_ envelope: DeliverEnvelope, edge: String) {
        if envelopes[edge] == nil { edges.append(edge) }
        envelopes[edge, default: []].append(envelope)
    }

    /// The records, per edge in first-seen order.
    func records(_ topics: Topics) -> [KafkaOutgoingRecord] {
        edges.flatMap { BatchedRecords.make(envelopes[$0] ?? [], topic: topics.deliver(edge: $0)) }
    }
}

extension DeliverEnvelope {
    /// Whether live entries of `user` for `sessions` may join this envelope.
    fileprivate func isLive(of user: String, for sessions: [String], epoch: String) -> Bool {
        self.user == user && self.sessions == sessions && self.epoch == epoch && page == nil && error == nil
    }
}
