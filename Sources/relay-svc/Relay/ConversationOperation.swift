import ParleyProtocol

/// One operation of a conversation on `chat.inbound`: a message, a group change or a block.
/// The conversation step takes a conversation's operations in record order, so they share one
/// order: messages and group changes take `cseq`s, a block takes effect between two of them.
enum ConversationOperation: Sendable, Equatable {
    case message(ChatMessage)
    case group(GroupOperation)
    case block(BlockOperation)

    var conv: String {
        switch self {
        case .message(let message): message.conv
        case .group(let operation): operation.conv
        case .block(let operation): operation.conv
        }
    }

    /// The user it comes from, and the client id its dedup key names.
    var origin: (user: String, clientID: String) {
        switch self {
        case .message(let message): (message.from, message.id ?? message.msg)
        case .group(let operation): (operation.by, operation.id)
        case .block(let operation): (operation.by, operation.id)
        }
    }

    /// The users a create or an add would make members, with the user who adds them (checked
    /// against their blocks: nobody is added by a user they block).
    var adding: (by: String, users: [String])? {
        guard case .group(let operation) = self else { return nil }
        switch operation.action {
        case .create: return (operation.by, operation.members)
        case .add: return (operation.by, operation.members)
        case .remove, .leave: return nil
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
        switch (envelope.message, envelope.group, envelope.block) {
        case (var message?, nil, nil):
            guard Conversation.isValid(message.conv), Identifier.isValid(message.from), !message.msg.isEmpty else {
                throw MalformedInbound("a message without a well-formed conv, from and msg")
            }
            message.to = Conversation.peer(in: message.conv, of: message.from)
            return .message(message)
        case (nil, var operation?, nil):
            guard Conversation.isValid(operation.conv), Identifier.isValid(operation.by), !operation.op.isEmpty, !operation.id.isEmpty,
                  operation.members.allSatisfy(Identifier.isValid) else {
                throw MalformedInbound("a group change without a well-formed conv, by, op, id and members")
            }
            if operation.action == .remove, !operation.members.isEmpty, operation.members.allSatisfy({ $0 == operation.by }) {
                operation.action = .leave
                operation.members = []
            }
            return .group(operation)
        case (nil, nil, let block?):
            guard Identifier.isValid(block.by), Identifier.isValid(block.user), block.by != block.user, !block.op.isEmpty, !block.id.isEmpty,
                  block.conv == Conversation.direct(block.by, block.user) else {
                throw MalformedInbound("a block without a well-formed op, id and two different users naming its conv")
            }
            return .block(block)
        default:
            throw MalformedInbound("not exactly one of message, group and block")
        }
    }
}

/// What is wrong with a `chat.inbound` record relay-svc drops.
struct MalformedInbound: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
