import ParleyKafka
import ParleyProtocol

/// `chat.inbox` records: every entry on its user's ``StreamPartition`` (an explicit partition,
/// so one partition carries all of a user's entries in order), the entries of one partition
/// batched in order (``BatchedRecords``). relay-svc (messages, rejections) and offline-svc
/// (receipts) both write them, with the topic's partition count learned at start.
public struct InboxRecords: Sendable {
    public let topic: String
    public let partitions: Int32

    public init(topic: String, partitions: Int32) {
        self.topic = topic
        self.partitions = partitions
    }

    /// The records of `entries`, partition after partition in first-seen order.
    public func records(_ entries: [InboxEntry]) -> [KafkaOutgoingRecord] {
        var order: [Int32] = []
        var byPartition: [Int32: [InboxEntry]] = [:]
        for entry in entries {
            let partition = StreamPartition.of(entry.user, count: partitions)
            if byPartition[partition] == nil { order.append(partition) }
            byPartition[partition, default: []].append(entry)
        }
        return order.flatMap { partition in
            BatchedRecords.make(byPartition[partition] ?? [], topic: topic).map { record in
                var record = record
                record.partition = partition
                return record
            }
        }
    }
}
