import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// What the conversation step did with one operation.
enum ConversationOutcome: Sendable, Equatable {
    /// A message stored in the log at this new `cseq`.
    case stored(cseq: UInt64)
    /// A client retry or a replay of a message (sender, client id): first stored at `cseq` as
    /// `msg`; `logged` is the ChatMessage JSON in the log (nil when retention trimmed it).
    case duplicate(cseq: UInt64, msg: String, logged: [UInt8]?)
    /// A group change at `cseq` as `op`; `again` when it was made before (a retry, a replay, a
    /// create of the same group by its creator), with the first `op` while the dedup key lives.
    /// `admin`: the member who became admin because no admin remained.
    case changed(cseq: UInt64, op: String, admin: String?, again: Bool)
    /// A block or unblock, now in effect.
    case applied
    /// Not done: the sender may not do it (the code says why; `cause` for the refusals whose
    /// `rejected` entry explains itself).
    case refused(ErrorCode, cause: RefusalCause? = nil)
}

/// The refusals a `rejected` entry gives a reason for.
enum RefusalCause: Sendable, Equatable {
    /// The dm's other user blocks the sender.
    case blockedByPeer
    /// The sender blocks the dm's other user.
    case blockingPeer
    /// The dm's other user never replied and the sender is at the message request limit.
    case messageRequest
    /// Over the sender's send quota in this window.
    case sendQuota(SendQuotas.Window)
}

/// The conversation step's reply: one outcome per operation, and for a group its members
/// hash and title after the step.
struct ConversationStepReply: Sendable, Equatable {
    var outcomes: [ConversationOutcome]
    /// nil for a dm (its members are the users it names).
    var roster: GroupRoster?
    var title: String?
}

/// The one atomic step relay-svc takes per conversation and batch: a Lua script on the
/// conversation's slot (`{conv}`, ``ConversationLua``) that takes the messages and group
/// changes in order, drops client retries, checks membership and the group rules, assigns
/// `cseq`s, appends messages to the conversation log, keeps the members hash, and trims the log.
///
/// Reply: `[outcomes, members, title]`. `outcomes` has one item per operation, in order: an
/// integer `cseq` (message stored), `[cseq, msg, m|nil]` (message duplicate),
/// `[cseq, op, admin|nil, again 0/1]` (group change), 0 (block or unblock applied), or an error
/// code string (refused; `blocking` and `request_limit` are refusals of their own).
/// `members` is the group's members hash as `user, value…` (nil for a dm), `title` its title.
enum ConversationStep {
    /// The call for `operations` (all of `conv`, in order, messages with `to` already set);
    /// `limited`: users at `--max-groups-per-user`, whom no change of this call may add;
    /// `blockers`: (by, user) pairs where `user` blocks `by`, so no change by `by` may add `user`;
    /// `requestLimit`: most dm messages to a user who never replied (0: no limit).
    static func call(conv: String, operations: [ConversationOperation], epoch: String, now: UInt64, dedupTTL: Duration,
                     retention: ConversationRetention, maxGroupMembers: Int, requestLimit: Int = 0,
                     limited: [String] = [], blockers: [BlockedAdd] = []) -> RedisCommand<ConversationStepReply> {
        let keys = RedisKeys.ConversationKeys(conv)
        var arguments: [RedisArgument] = [
            RedisArgument(conv), RedisArgument(epoch), RedisArgument(Int64(now)), RedisArgument(dedupTTL.redisMilliseconds),
            RedisArgument(retention.maxEntries), RedisArgument(retention.age.redisMilliseconds), RedisArgument(maxGroupMembers),
            RedisArgument(requestLimit), RedisArgument(limited.count),
        ]
        arguments += limited.map { RedisArgument($0) }
        arguments.append(RedisArgument(blockers.count))
        arguments += blockers.map { RedisArgument($0.by + "\n" + $0.user) }
        arguments.reserveCapacity(arguments.count + 5 * operations.count)
        for operation in operations {
            switch operation {
            case .message(let message):
                let (head, tail) = jsonAroundCseq(message)
                arguments += ["m", RedisArgument(message.from), RedisArgument(message.msg), RedisArgument(head), RedisArgument(tail)]
            case .block(let block):
                arguments += [block.blocks ? "b" : "u", RedisArgument(block.by), RedisArgument(block.op)]
            case .group(let change):
                arguments += [RedisArgument(change.action.rawValue), RedisArgument(change.by), RedisArgument(change.op),
                              RedisArgument(change.title ?? ""), RedisArgument(change.members.count)]
                arguments += change.members.map { RedisArgument($0) }
            }
        }
        let dedupKeys = operations.map { operation in
            let origin = operation.origin
            return keys.dedup(from: origin.user, clientID: origin.clientID)
        }
        return script.call(keys: [keys.meta, keys.log, keys.members, keys.blocks] + dedupKeys, arguments: arguments)
    }

    /// The message's JSON split around its `cseq` value, so the script can write it with the
    /// `cseq` it assigns: `head + "<cseq>" + tail` is `Envelope.encode` of the message with that `cseq`.
    static func jsonAroundCseq(_ message: ChatMessage) -> (head: [UInt8], tail: [UInt8]) {
        var placeholder = message
        placeholder.cseq = 0
        let json = Envelope.encode(placeholder)
        // `"cseq":` can only be the key itself: a quote inside a JSON string is escaped.
        let marker = Array(#""cseq":0"#.utf8)
        guard let range = json.firstRange(of: marker) else {
            preconditionFailure("ChatMessage's JSON lacks its cseq field")
        }
        return (Array(json[..<(range.upperBound - 1)]), Array(json[range.upperBound...]))
    }

    /// Reads the script's reply.
    static func reply(_ reply: RESPValue) throws(RedisError) -> ConversationStepReply {
        let parts = try reply.asArray()
        guard parts.count == 3 else { throw unexpected(reply) }
        var roster: GroupRoster?
        if case .array = parts[1] {
            guard let read = GroupRoster(fields: try parts[1].asStrings()) else { throw unexpected(parts[1]) }
            roster = read
        }
        return ConversationStepReply(outcomes: try outcomes(parts[0]), roster: roster, title: try parts[2].asString())
    }

    private static func outcomes(_ reply: RESPValue) throws(RedisError) -> [ConversationOutcome] {
        var outcomes: [ConversationOutcome] = []
        for item in try reply.asArray() {
            switch item {
            case .integer(let cseq) where cseq > 0:
                outcomes.append(.stored(cseq: UInt64(cseq)))
            case .integer(0):
                outcomes.append(.applied)
            case .array(let parts) where parts.count == 3:
                let cseq = try parts[0].asInteger()
                guard cseq > 0, let msg = try parts[1].asString() else { throw unexpected(item) }
                outcomes.append(.duplicate(cseq: UInt64(cseq), msg: msg, logged: try parts[2].asBytes()))
            case .array(let parts) where parts.count == 4:
                let cseq = try parts[0].asInteger(), again = try parts[3].asInteger()
                guard cseq > 0, let op = try parts[1].asString() else { throw unexpected(item) }
                outcomes.append(.changed(cseq: UInt64(cseq), op: op, admin: try parts[2].asString(), again: again == 1))
            case .bulk:
                switch try item.asString() {
                case "blocked": outcomes.append(.refused(.blocked, cause: .blockedByPeer))
                case "blocking": outcomes.append(.refused(.blocked, cause: .blockingPeer))
                case "request_limit": outcomes.append(.refused(.quotaExceeded, cause: .messageRequest))
                case let text?:
                    guard let code = ErrorCode(rawValue: text) else { throw unexpected(item) }
                    outcomes.append(.refused(code))
                case nil:
                    throw unexpected(item)
                }
            default:
                throw unexpected(item)
            }
        }
        return outcomes
    }

    private static func unexpected(_ item: RESPValue) -> RedisError {
        RedisError(code: .protocol, message: "unexpected conversation step reply: \(item)")
    }

    private static let script = RedisScript(anyKeys: ConversationLua.source, decode: reply)
}

/// A group change by `by` that would add `user`, who blocks `by`: refused with `blocked`.
struct BlockedAdd: Sendable, Hashable {
    let by: String
    let user: String
}
