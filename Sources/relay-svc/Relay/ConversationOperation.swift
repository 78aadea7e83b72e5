import ParleyProtocol

/// One operation of a conversation on `chat.inbound`: a message or a group change. The
/// conversation step takes a conversation's operations in record order, so both share one
/// `cseq` order.
enum ConversationOperation: Sendable, Equatable {
    case message(ChatMessage)
    case group(GroupOperation)

    var conv: String {
        switch self {
        case .message(let message): message.conv
        case .group(let operation): operation.conv
        }
    }

    /// The user it comes from, and the client id its dedup key names.
    var origin: (user: String, clientID: String) {
        switch self {
        case .message(let message): (message.from, message.id ?? message.msg)
        case .group(let operation): (operation.by, operation.id)
        }
    }

    /// The users a create or an add would make members (checked against `--max-groups-per-user`).
    var joining: [String] {
        guard case .group(let operation) = self else { return [] }
        switch operation.action {
        case .create: return [operation.by] + operation.members
        case .add: return operation.members
        case .remove, .leave: return []
        }
    }

    /// The operation an inbound envelope carries, ready for the step: a message gets its `to`
    /// (the sender's dm peer), a remove naming only its requester becomes a leave. Throws a
    /// description of what is wrong with a malformed envelope.
    static func of(_ envelope: InboundEnvelope) throws(MalformedInbound) -> ConversationOperation {
        switch (envelope.message, envelope.group) {
        case (var message?, nil):
            guard Conversation.isValid(message.conv), Identifier.isValid(message.from), !message.msg.isEmpty else {
                throw MalformedInbound("a message without a well-formed conv, from and msg")
            }
            message.to = Conversation.peer(in: message.conv, of: message.from)
            return .message(message)
        case (nil, var operation?):
            guard Conversation.isValid(operation.conv), Identifier.isValid(operation.by), !operation.op.isEmpty, !operation.id.isEmpty,
                  operation.members.allSatisfy(Identifier.isValid) else {
                throw MalformedInbound("a group change without a well-formed conv, by, op, id and members")
            }
            if operation.action == .remove, !operation.members.isEmpty, operation.members.allSatisfy({ $0 == operation.by }) {
                operation.action = .leave
                operation.members = []
            }
            return .group(operation)
        default:
            throw MalformedInbound("not exactly one of message and group")
        }
    }
}

/// What is wrong with a `chat.inbound` record relay-svc drops.
struct MalformedInbound: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
