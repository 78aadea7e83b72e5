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

    /// The `message` entry of `message` (which has its `cseq`) for every member, the sender included.
    mutating func add(message: ChatMessage) {
        for member in Self.members(of: message.conv) {
            add(.message(message), for: member)
        }
    }

    /// A `rejected` entry for the sender of a refused message.
    mutating func add(rejected message: ChatMessage, code: ErrorCode) {
        add(StreamEntry(kind: .rejected, msg: message.msg, conv: message.conv, cseq: 0, id: message.id, code: code),
            for: message.from)
    }

    /// The records, one partition after another.
    func records() -> [KafkaOutgoingRecord] { inbox.records(entries) }

    /// The members of `conv`: the users a dm names (one for notes to self); none for groups yet.
    static func members(of conv: String) -> [String] {
        guard let (a, b) = Conversation.directMembers(conv) else { return [] }
        return a == b ? [a] : [a, b]
    }

    private mutating func add(_ entry: StreamEntry, for user: String) {
        entries.append(InboxEntry(user: user, entry: entry))
    }
}
