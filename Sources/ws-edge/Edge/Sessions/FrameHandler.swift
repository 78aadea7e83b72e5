import Logging
import ParleyProtocol

/// What a session's frames mean: sends, acks, reads, syncs, queries, pings, presence watches,
/// group changes and typing (FrameHandler+Groups), blocks (FrameHandler+Blocks), and the seed mode's `{"user":…,"msg":…}`.
/// Bad frames get an `error` frame and change nothing else.
struct FrameHandler: Sendable {
    let edge: EdgeContext

    /// Handles one text frame of `session`, on its loop (whose outbox is `outbox`).
    func handle(text: some Collection<UInt8>, session: Session, outbox: LoopOutbox, logger: Logger) {
        if session.kind == .seed {
            handleSeed(text: text, session: session, loop: outbox.sessions)
            return
        }
        let frame: ClientFrame
        do {
            frame = try ClientFrame.decode(text, limits: edge.configuration.limits)
        } catch {
            reject(error, session: session)
            return
        }
        switch frame {
        case .send(let frame):
            send(frame, session: session, outbox: outbox, logger: logger)
        case .ack(let frame):
            if let error = session.ack(frame) { reject(error, session: session) }
        case .read(let frame):
            guard mayBelong(to: frame.conv, session) else { return reject(notMember(frame.conv), session: session) }
            edge.publisher.publishCursor(CursorMove(kind: .read, user: session.user, device: session.kind.device, session: session.id,
                                                    edge: edge.id, conv: frame.conv, cseq: frame.cseq))
        case .sync(let frame):
            session.resync(after: frame.after, epoch: frame.epoch)
        case .history(let frame):
            guard mayBelong(to: frame.conv, session) else { return reject(notMember(frame.conv), session: session) }
            query(QueryEnvelope(kind: .history, user: session.user, device: session.kind.device, session: session.id, edge: edge.id,
                                conv: frame.conv, before: frame.before, limit: frame.limit), outbox: outbox)
        case .conversations(let frame):
            query(QueryEnvelope(kind: .conversations, user: session.user, device: session.kind.device, session: session.id,
                                edge: edge.id, limit: frame.limit, next: frame.next), outbox: outbox)
        case .ping:
            session.send(.frame(.pong))
        case .watch(let frame):
            // The list takes effect with presence-svc's answer, which says whom the user may watch.
            outbox.sessions.requestWatch(session, users: Set(frame.users))
            if !frame.users.isEmpty {
                edge.publisher.publishPresence(.query, user: session.user, session: session.id, users: frame.users)
            }
        case .groupCreate(let frame):
            groupCreate(frame, session: session, outbox: outbox, logger: logger)
        case .groupAdd(let frame):
            groupChange(.add, frame, session: session, outbox: outbox, logger: logger)
        case .groupRemove(let frame):
            groupChange(.remove, frame, session: session, outbox: outbox, logger: logger)
        case .groupLeave(let frame):
            groupLeave(frame, session: session, outbox: outbox, logger: logger)
        case .members(let frame):
            query(QueryEnvelope(kind: .members, user: session.user, device: session.kind.device, session: session.id, edge: edge.id,
                                conv: frame.conv, next: frame.next), outbox: outbox)
        case .typing(let frame):
            typing(frame, session: session)
        case .block(let frame):
            block(frame, blocks: true, session: session, outbox: outbox, logger: logger)
        case .unblock(let frame):
            block(frame, blocks: false, session: session, outbox: outbox, logger: logger)
        }
    }

    /// A frame of a session the edge is closing (it waits for the client's close frame): only
    /// acks still count, so what the client confirmed is not replayed to it again.
    func handleWhileClosing(text: some Collection<UInt8>, session: Session) {
        guard session.kind != .seed, case .ack(let ack)? = try? ClientFrame.decode(text, limits: edge.configuration.limits) else { return }
        _ = session.ack(ack)
    }

    /// Produces a send to its conversation (`to`: the direct one with that user).
    private func send(_ frame: ClientFrame.Send, session: Session, outbox: LoopOutbox, logger: Logger) {
        let conv = frame.to.map { Conversation.direct(session.user, $0) } ?? frame.conv ?? ""
        guard mayBelong(to: conv, session) else {
            return reject(ProtocolError(.notMember, "not a member of \(conv)", clientID: frame.id), session: session)
        }
        guard let (msg, ts) = inboundID(clientID: frame.id, conv: conv, session: session, outbox: outbox) else { return }
        let message = ChatMessage(msg: msg, from: session.user, to: Conversation.peer(in: conv, of: session.user), conv: conv,
                                  body: frame.body, ts: ts, id: frame.id)
        edge.metrics.messagesIn.increment()
        publishInbound(InboundEnvelope(message: message, edge: edge.id, session: session.id, device: session.kind.namedDevice),
                       clientID: frame.id, msg: msg, ts: ts, outbox: outbox, logger: logger)
    }

    /// The id and time of a send or group change to produce with client id `clientID` (a new id
    /// without one), or nil for a retry of a client id this edge has produced (``RecentSends``):
    /// that is answered with the earlier `sent` now, or when the earlier produce settles.
    func inboundID(clientID: String?, conv: String, session: Session, outbox: LoopOutbox) -> (msg: String, ts: UInt64)? {
        let now = UnixTime.nowMilliseconds
        let time = { (msg: String) in MessageID.unixMilliseconds(of: msg) ?? now }
        guard let clientID else {
            let msg = outbox.sessions.messageID(unixMilliseconds: now)
            return (msg, time(msg))
        }
        let waiter = RetryWaiter(session: session.id, outbox: outbox)
        switch edge.recentSends.withLock({ $0.claim(user: session.user, clientID: clientID, waiter: waiter) {
            outbox.sessions.messageID(unixMilliseconds: now)
        } }) {
        case .produce(let msg):
            return (msg, time(msg))
        case .wait:
            return nil
        case .sent(let msg):
            session.send(.frame(.sent(.init(id: clientID, msg: msg, conv: conv, ts: time(msg)))))
            return nil
        }
    }

    /// Produces a send, group change or block to `chat.inbound`; its outcome goes back to the session's
    /// loop, which answers `sent` (or `unavailable`) there, and to the sessions whose retries of
    /// it wait.
    func publishInbound(_ envelope: InboundEnvelope, clientID: String, msg: String, ts: UInt64, outbox: LoopOutbox, logger: Logger) {
        let user = envelope.message?.from ?? envelope.group?.by ?? envelope.block?.by ?? ""
        edge.publisher.publishSend(envelope) { [edge = self.edge, conv = envelope.conv, session = envelope.session] result in
            if case .failure(let error) = result {
                edge.metrics.rejected(.unavailable)
                logger.warning("send not accepted by the broker", metadata: ["parley.msg": "\(msg)", "parley.error": "\(error)"])
            }
            let accepted = if case .success = result { true } else { false }
            outbox.hand(.settled(SettledSend(session: session, clientID: clientID, msg: msg, conv: conv, ts: ts, accepted: accepted)))
            for waiter in edge.recentSends.withLock({ $0.settle(user: user, clientID: clientID, accepted: accepted) }) {
                waiter.outbox.hand(.settled(SettledSend(session: waiter.session, clientID: clientID, msg: msg, conv: conv, ts: ts,
                                                        accepted: accepted)))
            }
        }
    }

    /// Produces a query; if the broker does not take it, the session gets `unavailable` instead
    /// of an answer.
    func query(_ query: QueryEnvelope, outbox: LoopOutbox) {
        edge.publisher.publishQuery(query) { [metrics = edge.metrics, id = query.session] result in
            guard case .failure = result else { return }
            metrics.rejected(.unavailable)
            outbox.hand(.unanswered(session: id, ProtocolError(.unavailable, "query not accepted, retry")))
        }
    }

    /// The seed tutorial's `{"user":"<recipient>","msg":"<text>"}`: sent without a reply.
    private func handleSeed(text: some Collection<UInt8>, session: Session, loop: LoopSessions) {
        guard let frame = try? SeedFrame.decode(text, limits: edge.configuration.limits) else {
            edge.metrics.rejected(.badRequest)
            return
        }
        let now = UnixTime.nowMilliseconds
        let msg = loop.messageID(unixMilliseconds: now)
        let message = ChatMessage(msg: msg, from: session.user, to: frame.user, conv: Conversation.direct(session.user, frame.user),
                                  body: frame.msg, ts: MessageID.unixMilliseconds(of: msg) ?? now, id: msg)
        edge.metrics.messagesIn.increment()
        edge.publisher.publishSend(InboundEnvelope(message: message, edge: edge.id, session: session.id))
    }

    /// Whether the session's user may be a member of `conv` as far as the edge can tell: a
    /// direct conversation must name the user (groups are checked by relay-svc and offline-svc).
    func mayBelong(to conv: String, _ session: Session) -> Bool {
        conv.hasPrefix("g:") || Conversation.names(conv, user: session.user)
    }

    func notMember(_ conv: String) -> ProtocolError {
        ProtocolError(.notMember, "not a member of \(conv)")
    }

    func reject(_ error: ProtocolError, session: Session) {
        edge.metrics.rejected(error.code)
        session.send(.frame(error.frame))
    }
}
