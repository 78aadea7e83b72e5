import Logging
import ParleyProtocol

/// What a session's frames mean: sends, acks, pings, presence watches, and the seed mode's
/// `{"user":…,"msg":…}`. Bad frames get an `error` frame and change nothing else.
struct FrameHandler: Sendable {
    let edge: EdgeContext

    /// Handles one text frame of `session`, on its loop (whose outbox is `outbox`).
    func handle(text: some Collection<UInt8>, session: Session, outbox: LoopOutbox, logger: Logger) {
        if session.raw {
            handleSeed(text: text, session: session, loop: outbox.sessions)
            return
        }
        let frame: ClientFrame
        do {
            frame = try ClientFrame.decode(text, limits: edge.configuration.limits)
        } catch {
            edge.metrics.rejected(error.code)
            session.send(.frame(error.frame))
            return
        }
        switch frame {
        case .send(let frame):
            send(clientID: frame.id, to: frame.to ?? frame.conv.flatMap { Conversation.peer(in: $0, of: session.user) } ?? "", body: frame.body, session: session, outbox: outbox, logger: logger)
        case .read, .sync, .history, .conversations:
            session.send(.frame(.error(ProtocolError(.unknownType, "not served by this edge yet"))))
        case .ack(let frame):
            let acked = session.acked(frame.msgs ?? [])
            edge.publisher.publishAck(AckEnvelope(user: session.user, acks: acked))
        case .ping:
            session.send(.frame(.pong))
        case .watch(let frame):
            let users = frame.users
            let wanted = Set(users)
            outbox.sessions.watch(session, users: wanted)
            if !wanted.isEmpty {
                edge.publisher.publishPresence(.query, user: session.user, session: session.id, users: users)
            }
        }
    }

    /// Produces a send; its outcome goes back to the session's loop, which answers `sent` (or
    /// `unavailable`) there.
    private func send(clientID: String, to: String, body: String, session: Session, outbox: LoopOutbox, logger: Logger) {
        let now = UnixTime.nowMilliseconds
        let msg = outbox.sessions.messageID(user: session.user, clientID: clientID, unixMilliseconds: now)
        let message = ChatMessage(msg: msg, from: session.user, to: to, conv: Conversation.direct(session.user, to), body: body,
                                  ts: MessageID.unixMilliseconds(of: msg) ?? now, id: clientID)
        edge.metrics.messagesIn.increment()
        edge.publisher.publishSend(InboundEnvelope(message: message, edge: edge.id, session: session.id)) { [metrics = edge.metrics, id = session.id] result in
            if case .failure(let error) = result {
                metrics.rejected(.unavailable)
                logger.warning("send not accepted by the broker", metadata: ["parley.msg": "\(msg)", "parley.error": "\(error)"])
            }
            let accepted = if case .success = result { true } else { false }
            outbox.hand(.settled(SettledSend(session: id, clientID: clientID, msg: msg, ts: message.ts, accepted: accepted)))
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
}
