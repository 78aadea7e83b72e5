import ParleyChat
import ParleyKafka
import ParleyProtocol

/// The `chat.inbox` output of one batch: stream entries gathered per partition (the user's
/// ``StreamPartition``) in the order they are added, then written as one or more
/// ``EnvelopeBatch`` records per partition (each at most ``BatchedRecords/maxBytes``).
struct InboxFanOut {
    let partitions: Int32
    private var order: [Int32] = []
    private var entries: [Int32: [InboxEntry]] = [:]

    init(partitions: Int32) { self.partitions = partitions }

    var isEmpty: Bool { order.isEmpty }

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
    func records(topic: String) -> [KafkaOutgoingRecord] {
        order.flatMap { partition in
            Envelope.encodeBatches(entries[partition] ?? [], maxBytes: BatchedRecords.maxBytes).map {
                KafkaOutgoingRecord(topic: topic, key: nil, value: $0, partition: partition)
            }
        }
    }

    /// The members of `conv`: the users a dm names (one for notes to self); none for groups yet.
    static func members(of conv: String) -> [String] {
        guard let (a, b) = Conversation.directMembers(conv) else { return [] }
        return a == b ? [a] : [a, b]
    }

    private mutating func add(_ entry: StreamEntry, for user: String) {
        let partition = StreamPartition.of(user, count: partitions)
        if entries[partition] == nil { order.append(partition) }
        entries[partition, default: []].append(InboxEntry(user: user, entry: entry))
    }
}
