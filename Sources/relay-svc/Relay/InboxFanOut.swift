import ParleyChat
import ParleyKafka
import ParleyProtocol

/// The `chat.inbox` output of one batch: the members' stream entries in the order they are
/// added, written by ``InboxRecords`` (one batched record per partition).
struct InboxFanOut {
    let inbox: InboxRecords
    private var entries: [InboxEntry] = []

    init(inbox: InboxRecords) { self.inbox = inbox }

    var isEmpty: Bool { entries.isEmpty }

    /// The `message` entry of `message` (which has its `cseq`) for every member at that `cseq`,
    /// the sender included: a group's from `roster`, a dm's the users it names.
    mutating func add(message: ChatMessage, roster: GroupRoster?) {
        let entry = StreamEntry.message(message)
        for member in roster?.recipients(at: entry.cseq) ?? Self.members(of: message.conv) {
            add(entry, for: member)
        }
    }

    /// The `group` entry of `operation` made at `cseq` as `op` for every member at that `cseq`
    /// (a removed member gets its removal, an added one its addition); the client id only on
    /// the requester's own entry.
    mutating func add(change operation: GroupOperation, cseq: UInt64, op: String, admin: String?, roster: GroupRoster, title: String?) {
        let entry = StreamEntry(kind: .group, msg: op, conv: operation.conv, cseq: cseq, by: operation.by, ts: operation.ts,
                                event: StreamEntry.GroupEvent(operation.action), members: roster.changed(by: operation, at: cseq),
                                title: title, admin: admin)
        for member in roster.recipients(at: cseq) {
            var mine = entry
            if member == operation.by { mine.id = operation.id }
            add(mine, for: member)
        }
    }

    /// A `rejected` entry for the requester of a refused message, group change or block, with
    /// `reason` in words when there is one.
    mutating func add(rejected operation: ConversationOperation, code: ErrorCode, reason: String? = nil) {
        switch operation {
        case .message(let message):
            add(StreamEntry(kind: .rejected, msg: message.msg, conv: message.conv, cseq: 0, id: message.id, code: code, reason: reason),
                for: message.from)
        case .group(let change):
            add(StreamEntry(kind: .rejected, msg: change.op, conv: change.conv, cseq: 0, id: change.id, code: code, reason: reason),
                for: change.by)
        case .block(let block):
            add(StreamEntry(kind: .rejected, msg: block.op, conv: block.conv, cseq: 0, id: block.id, code: code, reason: reason), for: block.by)
        }
    }

    /// The records, one partition after another.
    func records() -> [KafkaOutgoingRecord] { inbox.records(entries) }

    /// The members of the dm `conv`: the users it names (one for notes to self).
    static func members(of conv: String) -> [String] {
        guard let (a, b) = Conversation.directMembers(conv) else { return [] }
        return a == b ? [a] : [a, b]
    }

    private mutating func add(_ entry: StreamEntry, for user: String) {
        entries.append(InboxEntry(user: user, entry: entry))
    }
}
