import ParleyChat
import ParleyProtocol

extension EdgeDeliveries {
    /// `entry` (with its seq in `epoch`) for `user`'s subscribed sessions, one envelope per edge;
    /// consecutive live entries of one user for the same sessions share an envelope.
    mutating func add(_ entry: StreamEntry, user: String, epoch: String, to subscribers: [Subscriber]) {
        var sessions: [String: [String]] = [:]
        for subscriber in subscribers { sessions[subscriber.edge, default: []].append(subscriber.session) }
        for (edge, onEdge) in sessions.sorted(by: { $0.key < $1.key }) {
            let addressed = onEdge.sorted()
            add(DeliverEnvelope(user: user, sessions: addressed, entries: [entry], epoch: epoch), edge: edge) { last in
                last.user == user && last.sessions == addressed && last.epoch == epoch && last.page == nil && last.error == nil
            } append: { last in
                last.entries.append(entry)
            }
        }
    }
}
