import Logging
import ParleyProtocol

/// What a session's frames mean: sends, acks, pings, presence watches, and the seed mode's
/// `{"user":…,"msg":…}`. Bad frames get an `error` frame and change nothing else.
struct FrameHandler: Sendable {
    let edge: EdgeContext

    /// Handles one text frame of `session`.
    func handle(text: some Collection<UInt8>, session: Session, logger: Logger) {
        if session.raw {
            handleSeed(text: text, session: session)
            return
        }
        let frame: ClientFrame
        do {
            frame = try ClientFrame.decode(text, limits: edge.configuration.limits)
        } catch {
            edge.metrics.rejected(error.code)
            session.enqueue(.frame(error.frame))
            return
        }
        switch frame {
        case .send(let frame):
            send(clientID: frame.id, to: frame.to, body: frame.body, session: session, logger: logger)
        case .ack(let frame):
            let acked = session.acked(frame.msgs)
            edge.publishAck(AckEnvelope(user: session.user, acks: acked))
        case .ping:
            session.enqueue(.frame(.pong))
        case .watch(let frame):
            let users = frame.users
            let wanted = Set(users)
            edge.hub.watch(session, users: wanted)
            if !wanted.isEmpty {
                edge.publishPresence(.query, user: session.user, session: session.id, users: users)
            }
        }
    }

    private func send(clientID: String, to: String, body: String, session: Session, logger: Logger) {
        let now = UnixTime.nowMilliseconds
        let (msg, _) = edge.recentSends.messageID(user: session.user, clientID: clientID) { MessageID.make(unixMilliseconds: now) }
        let message = ChatMessage(msg: msg, from: session.user, to: to, body: body, ts: MessageID.unixMilliseconds(of: msg) ?? now,
                                  id: clientID)
        let envelope = InboundEnvelope(message: message, edge: edge.id, session: session.id)
        edge.metrics.messagesIn.increment()
        edge.publish(envelope, key: to, topic: edge.topics.inbound) { result in
            switch result {
            case .success:
                session.enqueue(.frame(.sent(.init(id: clientID, msg: msg, ts: message.ts))))
            case .failure(let error):
                edge.metrics.rejected(.unavailable)
                logger.warning("send not accepted by the broker", metadata: ["parley.msg": "\(msg)", "parley.error": "\(error)"])
                session.enqueue(.frame(.error(ProtocolError(.unavailable, "message not accepted, retry", clientID: clientID))))
            }
        }
    }

    /// The seed tutorial's `{"user":"<recipient>","msg":"<text>"}`: sent without a reply.
    private func handleSeed(text: some Collection<UInt8>, session: Session) {
        guard let frame = try? SeedFrame.decode(text, limits: edge.configuration.limits) else {
            edge.metrics.rejected(.badRequest)
            return
        }
        let msg = MessageID.make()
        let message = ChatMessage(msg: msg, from: session.user, to: frame.user, body: frame.msg,
                                  ts: MessageID.unixMilliseconds(of: msg) ?? UnixTime.nowMilliseconds, id: msg)
        edge.metrics.messagesIn.increment()
        edge.publish(InboundEnvelope(message: message, edge: edge.id, session: session.id), key: frame.user, topic: edge.topics.inbound)
    }
}
