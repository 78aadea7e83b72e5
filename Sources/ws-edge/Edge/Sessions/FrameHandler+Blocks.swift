import Logging
import ParleyProtocol

// `block` and `unblock` travel like a send: to `chat.inbound` keyed by the direct conversation
// of the two users, `sent` once the broker has it. relay-svc, that conversation's single
// writer, keeps the block state, so a block takes effect at one point of the conversation's order.
extension FrameHandler {
    /// `block` (`blocks`) or `unblock` of `frame.user`; naming oneself is a `bad_request` at once.
    func block(_ frame: ClientFrame.Block, blocks: Bool, session: Session, outbox: LoopOutbox, logger: Logger) {
        guard frame.user != session.user else {
            return reject(ProtocolError(.badRequest, "a user cannot block themselves", clientID: frame.id), session: session)
        }
        let conv = Conversation.direct(session.user, frame.user)
        guard let (op, ts) = inboundID(clientID: frame.id, conv: conv, session: session, outbox: outbox) else { return }
        let id = frame.id ?? op
        let operation = BlockOperation(op: op, blocks: blocks, by: session.user, user: frame.user, id: id, ts: ts)
        publishInbound(InboundEnvelope(block: operation, edge: edge.id, session: session.id, device: session.kind.namedDevice),
                       clientID: id, msg: op, ts: ts, outbox: outbox, logger: logger)
    }
}
