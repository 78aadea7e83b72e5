import Logging
import NIOCore
import ParleyProtocol

// Group changes and typing. A group change travels like a send: to `chat.inbound` keyed by the
// group, `sent` once the broker has it, the outcome (a `group` or `rejected` entry) later in
// the stream. relay-svc, the group's single writer, decides whether it is allowed.
extension FrameHandler {
    /// `group_create`: the group's id is derived from the creator and the client id.
    func groupCreate(_ frame: ClientFrame.GroupCreate, session: Session, outbox: LoopOutbox, logger: Logger) {
        let members = Self.distinct(frame.members).filter { $0 != session.user }
        publishGroup(.create, conv: GroupID.derive(creator: session.user, clientID: frame.id), clientID: frame.id, title: frame.title,
                     members: members, session: session, outbox: outbox, logger: logger)
    }

    /// `group_add` and `group_remove`.
    func groupChange(_ action: GroupOperation.Action, _ frame: ClientFrame.GroupChange, session: Session, outbox: LoopOutbox,
                     logger: Logger) {
        publishGroup(action, conv: frame.conv, clientID: frame.id, members: Self.distinct(frame.members), session: session,
                     outbox: outbox, logger: logger)
    }

    func groupLeave(_ frame: ClientFrame.GroupLeave, session: Session, outbox: LoopOutbox, logger: Logger) {
        publishGroup(.leave, conv: frame.conv, clientID: frame.id, session: session, outbox: outbox, logger: logger)
    }

    /// `typing`: a dm that does not name the user is refused at once; otherwise at most one
    /// signal per conversation and `--typing-interval` goes to `chat.signals`, extra ones are
    /// dropped without an answer.
    func typing(_ frame: ClientFrame.Typing, session: Session) {
        guard mayBelong(to: frame.conv, session) else { return reject(notMember(frame.conv), session: session) }
        guard session.typing.allows(frame.conv, now: .now(), interval: TimeAmount(edge.configuration.typingInterval)) else { return }
        edge.publisher.publishSignal(SignalEnvelope(kind: .typing, conv: frame.conv, user: session.user, session: session.id,
                                                    edge: edge.id, ts: UnixTime.nowMilliseconds))
    }

    /// Produces a group change with a fresh op id (a retry of a client id is answered by
    /// ``inboundID(clientID:conv:session:outbox:)``); without a client id the op id is the client id too.
    private func publishGroup(_ action: GroupOperation.Action, conv: String, clientID: String?, title: String? = nil,
                              members: [String] = [], session: Session, outbox: LoopOutbox, logger: Logger) {
        guard let (op, ts) = inboundID(clientID: clientID, conv: conv, session: session, outbox: outbox) else { return }
        let id = clientID ?? op
        let operation = GroupOperation(op: op, action: action, conv: conv, by: session.user, id: id, title: title, members: members, ts: ts)
        publishInbound(InboundEnvelope(group: operation, edge: edge.id, session: session.id, device: session.kind.namedDevice),
                       clientID: id, msg: op, ts: ts, outbox: outbox, logger: logger)
    }

    /// `users` without repeats, in first-named order.
    static func distinct(_ users: [String]) -> [String] {
        var seen: Set<String> = []
        return users.filter { seen.insert($0).inserted }
    }
}
