import Metrics
import ParleyProtocol
import Synchronization

/// Every session on this edge, by id and by user, and who watches whose presence. Deliveries
/// from Kafka are fanned out here into the sessions' outbound queues.
final class SessionHub: Sendable {
    private struct State {
        var sessions: [String: Session] = [:]
        var byUser: [String: [String]] = [:]
        var watchers: [String: Set<String>] = [:]
    }

    private let state = Mutex(State())
    private let maxSessionsPerUser: Int
    private let active = Gauge(label: "parley_sessions_active")
    private let messagesOut = Counter(label: "parley_messages_out_total")

    init(maxSessionsPerUser: Int) {
        self.maxSessionsPerUser = maxSessionsPerUser
    }

    /// Registers a session; false when the user already has the most sessions allowed here.
    func add(_ session: Session) -> Bool {
        let (added, count) = state.withLock { state -> (Bool, Int) in
            let current = state.byUser[session.user, default: []]
            guard current.count < maxSessionsPerUser else { return (false, state.sessions.count) }
            state.byUser[session.user] = current + [session.id]
            state.sessions[session.id] = session
            return (true, state.sessions.count)
        }
        active.record(count)
        return added
    }

    func remove(_ session: Session) {
        let count = state.withLock { state -> Int in
            guard state.sessions.removeValue(forKey: session.id) != nil else { return state.sessions.count }
            let remaining = state.byUser[session.user, default: []].filter { $0 != session.id }
            state.byUser[session.user] = remaining.isEmpty ? nil : remaining
            for user in session.watching { Self.unwatch(user, session.id, &state) }
            return state.sessions.count
        }
        active.record(count)
    }

    /// Replaces a session's watch list.
    func watch(_ session: Session, users: Set<String>) {
        let previous = session.watch(users)
        state.withLock { state in
            for user in previous.subtracting(users) { Self.unwatch(user, session.id, &state) }
            for user in users.subtracting(previous) { state.watchers[user, default: []].insert(session.id) }
        }
    }

    /// Writes what a deliver record carries to the addressed sessions of its user here.
    /// Returns the messages written to seed-mode sessions, which count as acked.
    func deliver(_ envelope: DeliverEnvelope) -> [(session: Session, messages: [ChatMessage])] {
        let targets = state.withLock { state -> [Session] in
            let ids = state.byUser[envelope.user] ?? []
            return ids.compactMap { id in
                if let only = envelope.sessions, !only.contains(id) { return nil }
                if id == envelope.exceptSession { return nil }
                return state.sessions[id]
            }
        }
        var rawDelivered: [(Session, [ChatMessage])] = []
        for session in targets {
            var written: [ChatMessage] = []
            for message in envelope.messages where session.deliver(message) {
                written.append(message)
            }
            messagesOut.increment(by: written.count)
            if session.raw {
                if !written.isEmpty { rawDelivered.append((session, written)) }
                continue
            }
            for receipt in envelope.receipts {
                session.enqueue(.frame(.receipt(.init(msg: receipt.msg, by: receipt.by, id: receipt.id))))
            }
            for status in envelope.presence {
                session.enqueue(.frame(.presence(status)))
            }
        }
        return rawDelivered
    }

    /// Tells every session watching `user` its new status.
    func presenceChanged(user: String, status: PresenceStatus.Status) {
        let targets = state.withLock { state in (state.watchers[user] ?? []).compactMap { state.sessions[$0] } }
        for session in targets { session.enqueue(.frame(.presence(PresenceStatus(user: user, status: status)))) }
    }

    /// Every session, e.g. to close them all at shutdown.
    var all: [Session] { state.withLock { Array($0.sessions.values) } }

    var count: Int { state.withLock { $0.sessions.count } }

    private static func unwatch(_ user: String, _ session: String, _ state: inout State) {
        state.watchers[user]?.remove(session)
        if state.watchers[user]?.isEmpty == true { state.watchers[user] = nil }
    }
}
