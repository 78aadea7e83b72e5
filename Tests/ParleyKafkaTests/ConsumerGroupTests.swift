import ParleyKafka
import ParleyTestSupport
import Synchronization
import Testing

/// Records collected by a background reader.
final class Collected: Sendable {
    let records = Mutex<[KafkaRecord]>([])
    var count: Int { records.withLock { $0.count } }
    var all: [KafkaRecord] { records.withLock { $0 } }
}

/// Reads `consumer` in the background until it ends, committing every batch.
func startReading(_ consumer: KafkaConsumer, into collected: Collected) -> Task<Void, any Error> {
    Task {
        while let batch = try await consumer.nextBatch(maxCount: 100) {
            collected.records.withLock { $0 += batch }
            try await consumer.commit(batch)
        }
    }
}

@Suite("Kafka consumer groups")
struct ConsumerGroupTests {
    @Test("two members split four partitions 2+2, consume each record once, and a leaver hands its partitions back")
    func twoMembersSplitPartitions() async throws {
        let prefix = TestEnvironment.uniquePrefix()
        let topic = prefix + "split"
        let group = prefix + "group"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 4)])
        let producer = try KafkaProducer(configuration: testConfiguration("split"), logger: testLogger("producer"))

        let a = try KafkaConsumer(configuration: testConfiguration("a"), groupID: group, topics: [topic], logger: testLogger("a"))
        try await a.waitUntilAssigned(timeout: .seconds(20))
        #expect(a.assignedPartitions.count == 4)
        let b = try KafkaConsumer(configuration: testConfiguration("b"), groupID: group, topics: [topic], logger: testLogger("b"))
        try await waitUntil("a 2+2 split") { a.assignedPartitions.count == 2 && b.assignedPartitions.count == 2 }
        let partitionsA = Set(a.assignedPartitions.map(\.partition))
        let partitionsB = Set(b.assignedPartitions.map(\.partition))
        #expect(partitionsA.isDisjoint(with: partitionsB))
        #expect(partitionsA.union(partitionsB) == [0, 1, 2, 3])

        let fromA = Collected(), fromB = Collected()
        let readerA = startReading(a, into: fromA)
        let readerB = startReading(b, into: fromB)

        let first = (0..<40).map { KafkaOutgoingRecord(topic: topic, key: "user-\($0)", value: bytes("first-\($0)")) }
        let deliveries = try await producer.send(batch: first)
        #expect(Set(deliveries.map(\.partition)).count == 4, "the keys spread over all partitions")
        try await waitUntil("40 records") { fromA.count + fromB.count >= 40 }
        #expect(fromA.count > 0 && fromB.count > 0)
        #expect(fromA.all.allSatisfy { partitionsA.contains($0.partition) })
        #expect(fromB.all.allSatisfy { partitionsB.contains($0.partition) })
        let values = (fromA.all + fromB.all).map { text($0.value) }
        #expect(values.count == 40)
        #expect(Set(values) == Set(first.map { text($0.value) }), "every record exactly once")

        // b leaves (its reader committed what it read): a gets all four partitions and only new records.
        await b.shutdown()
        try await readerB.value
        try await waitUntil("a owns all partitions") { a.assignedPartitions.count == 4 }
        let second = (0..<20).map { KafkaOutgoingRecord(topic: topic, key: "user-\($0)", value: bytes("second-\($0)")) }
        _ = try await producer.send(batch: second)
        try await waitUntil("20 more records at a") { fromA.count + fromB.count >= 60 }
        let all = (fromA.all + fromB.all).map { text($0.value) }
        #expect(all.count == 60, "no re-delivery of committed records after the hand-over")
        #expect(Set(all) == Set((first + second).map { text($0.value) }))

        await a.shutdown()
        try await readerA.value
        await producer.shutdown(timeout: .seconds(5))
    }

    @Test("a restarted member resumes after its committed offset")
    func resumesAfterCommit() async throws {
        let prefix = TestEnvironment.uniquePrefix()
        let topic = prefix + "resume"
        let group = prefix + "group"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("resume"), logger: testLogger("producer"))
        _ = try await producer.send(batch: (0..<6).map { KafkaOutgoingRecord(topic: topic, key: "k", value: bytes("r\($0)")) })

        let first = try KafkaConsumer(configuration: testConfiguration("resume1"), groupID: group, topics: [topic], logger: testLogger("c1"))
        let initial = try await collect(first, count: 6)
        #expect(initial.map { text($0.value) } == (0..<6).map { "r\($0)" })
        try await first.commit(Array(initial.prefix(4)))  // r4 and r5 stay uncommitted
        await first.shutdown()

        _ = try await producer.send(batch: (6..<9).map { KafkaOutgoingRecord(topic: topic, key: "k", value: bytes("r\($0)")) })
        let second = try KafkaConsumer(configuration: testConfiguration("resume2"), groupID: group, topics: [topic], logger: testLogger("c2"))
        let resumed = try await collect(second, count: 5)
        #expect(resumed.map { text($0.value) } == (4..<9).map { "r\($0)" }, "starts right after the committed offset")
        #expect(resumed.first?.offset == 4)
        await second.shutdown()
        await producer.shutdown(timeout: .seconds(5))
    }
}
