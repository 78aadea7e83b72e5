import Metrics
import ParleyProtocol

/// The sessions of one event loop, by id and by user, who among them watches whose presence,
/// and the message ids of their sends. Loop-bound like its sessions: the
/// loop's session handlers and its ``LoopOutbox`` use it on the loop only, so nothing is locked.
final class LoopSessions {
    private var sessions: [String: Session] = [:]
    private var byUser: [String: [Session]] = [:]
    /// User → ids of the sessions watching that user.
    private var watchers: [String: Set<String>] = [:]
    private var messageIDs = MessageID.Generator()
    private let reports: any SessionReports
    private let messagesOut: Counter
    private let deliveryLatency = DeliveryLatency()

    init(reports: any SessionReports, messagesOut: Counter) {
        self.reports = reports
        self.messagesOut = messagesOut
    }

    func add(_ session: Session) {
        sessions[session.id] = session
        byUser[session.user, default: []].append(session)
    }

    func remove(_ session: Session) {
        guard sessions.removeValue(forKey: session.id) != nil else { return }
        let remaining = byUser[session.user, default: []].filter { $0 !== session }
        byUser[session.user] = remaining.isEmpty ? nil : remaining
        for user in session.watching { unwatch(user, session.id) }
    }

    /// A `watch` of `users`: the session stops watching users it no longer asks for at once; whom
    /// of `users` it watches comes with presence-svc's answer (``DeliverEnvelope/watch``).
    func requestWatch(_ session: Session, users: Set<String>) {
        session.watchRequested = users
        watch(session, users: session.watching.intersection(users))
    }

    /// Replaces a session's watch list.
    private func watch(_ session: Session, users: Set<String>) {
        for user in session.watching.subtracting(users) { unwatch(user, session.id) }
        for user in users.subtracting(session.watching) { watchers[user, default: []].insert(session.id) }
        session.watching = users
    }

    /// A new message id.
    func messageID(unixMilliseconds: UInt64) -> String {
        messageIDs.make(unixMilliseconds: unixMilliseconds)
    }

    /// Applies work handed over from other threads; each session that got frames is flushed
    /// once, at the end.
    func apply(_ work: [LoopWork]) {
        var flushing: [Session] = []
        for item in work {
            switch item {
            case .deliver(let envelopes):
                for envelope in envelopes { deliver(envelope, flushing: &flushing) }
            case .presence(let changes):
                for change in changes {
                    for id in watchers[change.user] ?? [] {
                        guard let session = sessions[id] else { continue }
                        queue(.frame(.presence(change)), to: session, flushing: &flushing)
                    }
                }
            case .settled(let send):
                guard let session = sessions[send.session] else { continue }
                let frame: ServerFrame = send.accepted
                    ? .sent(.init(id: send.clientID, msg: send.msg, conv: send.conv, ts: send.ts))
                    : .error(ProtocolError(.unavailable, "message not accepted, retry", clientID: send.clientID))
                queue(.frame(frame), to: session, flushing: &flushing)
            case .unanswered(let session, let error):
                guard let session = sessions[session] else { continue }
                queue(.frame(.error(error)), to: session, flushing: &flushing)
            case .pingRound:
                for session in sessions.values where !session.pingRound() { session.close(.unresponsive) }
            case .closeAll(let reason):
                for session in sessions.values { session.close(reason) }
            }
        }
        for session in flushing { session.flush() }
    }

    /// Writes what a deliver record carries to the addressed sessions of its user on this loop:
    /// stream entries (live, or a page) through each session's sequencer, answers to its queries,
    /// its watch list (and the watches a block ended) and presence, typing (v2 sessions only: v1
    /// clients know no such frame); or closes them when presence-svc says they were replaced (the
    /// user's session cap); a server API disconnect closes every session of the user.
    private func deliver(_ envelope: DeliverEnvelope, flushing: inout [Session]) {
        if envelope.resync {
            for session in sessions.values {
                reports.publishPresence(.connect, user: session.user, session: session.id, users: nil)
                session.resubscribe()
            }
            return
        }
        if envelope.disconnect {
            for session in byUser[envelope.user] ?? [] { session.close(.disconnected) }
            return
        }
        for session in byUser[envelope.user] ?? [] {
            if let only = envelope.sessions, !only.contains(session.id) { continue }
            if envelope.replaced {
                session.close(.replaced)
                continue
            }
            let idle = !session.hasWaiting
            defer { if idle, session.hasWaiting { flushing.append(session) } }
            if envelope.page != nil || !envelope.entries.isEmpty {
                messagesOut.increment(by: session.receive(envelope.entries, page: envelope.page, epoch: envelope.epoch))
                if envelope.page == nil { deliveryLatency.record(envelope.entries) }
            }
            guard session.kind != .seed else { continue }
            if let history = envelope.history { session.queue(.frame(.history(history))) }
            if let conversations = envelope.conversations { session.queue(.frame(.conversations(conversations))) }
            if let members = envelope.members { session.queue(.frame(.members(members))) }
            if let error = envelope.error { session.queue(.frame(.error(error))) }
            if let allowed = envelope.watch { watch(session, users: session.watchRequested.intersection(allowed)) }
            if let ended = envelope.unwatch { watch(session, users: session.watching.subtracting(ended)) }
            for status in envelope.presence { session.queue(.frame(.presence(status))) }
            if let typing = envelope.typing, session.kind.namedDevice != nil { session.queue(.frame(.typing(typing))) }
        }
    }

    /// Queues a frame; notes the session for the flush at the end of the drain when it is its first.
    private func queue(_ item: Session.Outbound, to session: Session, flushing: inout [Session]) {
        let idle = !session.hasWaiting
        if session.queue(item), idle { flushing.append(session) }
    }

    private func unwatch(_ user: String, _ session: String) {
        watchers[user]?.remove(session)
        if watchers[user]?.isEmpty == true { watchers[user] = nil }
    }
}
