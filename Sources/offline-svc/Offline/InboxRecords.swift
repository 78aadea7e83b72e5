import ParleyChat
import ParleyKafka
import ParleyProtocol

/// Entries for other users' streams (`chat.inbox`): receipts for senders. Each goes to its
/// user's ``StreamPartition``, the entries of one partition batched in order.
struct InboxRecords: Sendable {
    let topic: String
    let partitions: Int32

    func records(_ entries: [InboxEntry]) -> [KafkaOutgoingRecord] {
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
