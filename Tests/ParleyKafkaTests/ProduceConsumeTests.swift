@testable import ParleyKafka
import ParleyTestSupport
import Synchronization
import Testing

@Suite("Kafka produce and consume")
struct ProduceConsumeTests {
    @Test("records round-trip with keys, binary values and per-partition order")
    func roundTrip() async throws {
        let topic = TestEnvironment.uniquePrefix() + "roundtrip"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("rt"), logger: testLogger("producer"))

        let allBytes = (0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var sent: [KafkaOutgoingRecord] = [
            KafkaOutgoingRecord(topic: topic, key: "alice", value: bytes("héllo ✓")),
            KafkaOutgoingRecord(topic: topic, key: nil, value: [0, 255, 0, 1, 128]),
            KafkaOutgoingRecord(topic: topic, key: [0xff, 0x00, 0x7f], value: allBytes),
            KafkaOutgoingRecord(topic: topic, key: "empty-value", value: []),
        ]
        sent += (0..<20).map { KafkaOutgoingRecord(topic: topic, key: "n", value: bytes("n-\($0)")) }

        var deliveries: [KafkaDelivery] = []
        for record in sent { deliveries.append(try await producer.send(record)) }
        #expect(deliveries.map(\.offset) == (0..<Int64(sent.count)).map { $0 })
        #expect(deliveries.allSatisfy { $0.topic == topic && $0.partition == 0 })

        let consumer = try KafkaConsumer(configuration: testConfiguration("rt"),
                                         assignments: [(topic: topic, partition: 0, start: .beginning)],
                                         logger: testLogger("consumer"))
        let received = try await collect(consumer, count: sent.count)
        #expect(received.map(\.offset) == deliveries.map(\.offset))
        for (got, want) in zip(received, sent) {
            #expect(got.topic == topic)
            #expect(got.partition == 0)
            #expect(got.key == want.key, "key at offset \(got.offset)")
            #expect(got.value == want.value, "value at offset \(got.offset)")
            #expect(got.timestamp != nil)
        }
        await consumer.shutdown()
        await producer.shutdown(timeout: .seconds(5))
    }

    @Test("send(batch:) keeps order, overall and per key")
    func batchKeepsOrder() async throws {
        let prefix = TestEnvironment.uniquePrefix()
        let single = prefix + "batch1"
        let multi = prefix + "batch3"
        try await createTopics([KafkaTopicSpec(name: single, partitions: 1), KafkaTopicSpec(name: multi, partitions: 3)])
        let producer = try KafkaProducer(configuration: testConfiguration("batch"), logger: testLogger("producer"))

        let records = (0..<300).map { KafkaOutgoingRecord(topic: single, key: nil, value: bytes("\($0)")) }
        let deliveries = try await producer.send(batch: records)
        #expect(deliveries.count == 300)
        #expect(deliveries.map(\.offset) == (0..<300).map { Int64($0) })

        let keys = ["a", "b", "c", "d", "e"]
        let keyed = (0..<200).map { KafkaOutgoingRecord(topic: multi, key: keys[$0 % keys.count], value: bytes("\(keys[$0 % keys.count]):\($0 / keys.count)")) }
        let keyedDeliveries = try await producer.send(batch: keyed)
        #expect(keyedDeliveries.count == 200)

        let consumer = try KafkaConsumer(configuration: testConfiguration("batch"),
                                         assignments: [(topic: single, partition: 0, start: .beginning)]
                                             + (0..<3).map { (topic: multi, partition: Int32($0), start: KafkaStartOffset.beginning) },
                                         logger: testLogger("consumer"))
        let received = try await collect(consumer, count: 500)
        let fromSingle = received.filter { $0.topic == single }
        #expect(fromSingle.map { text($0.value) } == (0..<300).map { "\($0)" })

        var sequences: [String: [Int]] = [:]
        var partitionOfKey: [String: Set<Int32>] = [:]
        for record in received where record.topic == multi {
            let parts = text(record.value).split(separator: ":")
            sequences[String(parts[0]), default: []].append(Int(parts[1])!)
            partitionOfKey[String(parts[0]), default: []].insert(record.partition)
        }
        for key in keys {
            #expect(sequences[key] == Array(0..<40), "order of key \(key)")
            #expect(partitionOfKey[key]?.count == 1, "key \(key) stays on one partition")
        }
        await consumer.shutdown()
        await producer.shutdown(timeout: .seconds(5))
    }

    @Test("manual assignment from .end sees only new records; from .beginning sees all")
    func manualAssignment() async throws {
        let topic = TestEnvironment.uniquePrefix() + "manual"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("manual"), logger: testLogger("producer"))
        _ = try await producer.send(batch: (0..<5).map { KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("old-\($0)")) })

        let fromEnd = try KafkaConsumer(configuration: testConfiguration("end"),
                                        assignments: [(topic: topic, partition: 0, start: .end)], logger: testLogger("end"))
        try await fromEnd.waitUntilAssigned(timeout: .seconds(10))
        #expect(fromEnd.isAssigned)
        #expect(fromEnd.assignedPartitions.map(\.topic) == [topic])
        _ = try await producer.send(batch: (0..<3).map { KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("new-\($0)")) })

        let newOnes = try await collect(fromEnd, count: 3)
        #expect(newOnes.map { text($0.value) } == ["new-0", "new-1", "new-2"])
        #expect(newOnes.map(\.offset) == [5, 6, 7])

        let fromBeginning = try KafkaConsumer(configuration: testConfiguration("beginning"),
                                              assignments: [(topic: topic, partition: 0, start: .beginning)], logger: testLogger("beginning"))
        let all = try await collect(fromBeginning, count: 8)
        #expect(all.map { text($0.value) } == (0..<5).map { "old-\($0)" } + (0..<3).map { "new-\($0)" })

        let fromOffset = try KafkaConsumer(configuration: testConfiguration("offset"),
                                           assignments: [(topic: topic, partition: 0, start: .offset(6))], logger: testLogger("offset"))
        let tail = try await collect(fromOffset, count: 2)
        #expect(tail.map(\.offset) == [6, 7])

        await fromEnd.shutdown()
        await fromBeginning.shutdown()
        await fromOffset.shutdown()
        await producer.shutdown(timeout: .seconds(5))
    }

    @Test("lag counts records not yet handed to the application")
    func lag() async throws {
        let topic = TestEnvironment.uniquePrefix() + "lag"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("lag"), logger: testLogger("producer"))
        _ = try await producer.send(batch: (0..<10).map { KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("\($0)")) })

        let consumer = try KafkaConsumer(configuration: testConfiguration("lag"),
                                         assignments: [(topic: topic, partition: 0, start: .beginning)], logger: testLogger("lag"))
        try await waitUntil("lag 10") { consumer.lag == 10 }
        _ = try await collect(consumer, count: 10)
        try await waitUntil("lag 0") { consumer.lag == 0 }
        await consumer.shutdown()
        #expect(consumer.lag == nil)
        await producer.shutdown(timeout: .seconds(5))
    }

    @Test("a small buffer applies backpressure without losing records or blocking commits; cancelling a wait is safe")
    func backpressureAndCancellation() async throws {
        let prefix = TestEnvironment.uniquePrefix()
        let topic = prefix + "backpressure"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        var configuration = testConfiguration("bp")
        configuration.consumerBufferSize = 8
        let consumer = try KafkaConsumer(configuration: configuration, groupID: prefix + "group", topics: [topic], logger: testLogger("bp"))
        try await consumer.waitUntilAssigned(timeout: .seconds(20))

        // A wait with nothing to read can be cancelled, and the consumer keeps working.
        let waiting = Task { try await consumer.nextBatch(maxCount: 10) }
        try await waitUntil("the read to wait for records") { consumer.buffer.waiterCount == 1 }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiting.value }

        let producer = try KafkaProducer(configuration: testConfiguration("bp"), logger: testLogger("producer"))
        _ = try await producer.send(batch: (0..<200).map { KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("\($0)")) })
        try await waitUntil("a full buffer") { consumer.lag.map { $0 >= 8 } ?? false }

        var received: [KafkaRecord] = []
        while received.count < 200 {
            let batch = try await withTimeout(.seconds(20), "a batch") { try await consumer.nextBatch(maxCount: 5) }
            let records = try #require(batch)
            #expect(records.count <= 5)
            received += records
            try await withTimeout(.seconds(20), "a commit with a full buffer") { try await consumer.commit(records) }
        }
        #expect(received.map { text($0.value) } == (0..<200).map { "\($0)" })
        await consumer.shutdown()
        await producer.shutdown(timeout: .seconds(5))
    }
}
