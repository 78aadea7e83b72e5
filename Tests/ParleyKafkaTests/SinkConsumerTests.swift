import ParleyKafka
import ParleyTestSupport
import Synchronization
import Testing

/// Collects what a sink consumer hands over, and on which kind of thread.
private final class CollectingSink: KafkaRecordSink {
    let received = Mutex<[KafkaRecord]>([])
    let calledOnTask = Mutex(false)

    func receive(_ records: [KafkaRecord], status: KafkaConsumerStatus) {
        withUnsafeCurrentTask { task in
            if task != nil { calledOnTask.withLock { $0 = true } }
        }
        received.withLock { $0 += records }
    }
}

@Suite("Kafka sink consumer")
struct SinkConsumerTests {
    @Test("a sink consumer hands every record, in offset order, to its sink on the consumer's own thread (no task)")
    func handsOverOnItsThread() async throws {
        let topic = TestEnvironment.uniquePrefix() + "sink"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("sink"), logger: testLogger("producer"))
        let sink = CollectingSink()
        let consumer = try KafkaConsumer(configuration: testConfiguration("sink"),
                                         assignments: [(topic: topic, partition: 0, start: .end)],
                                         sink: sink, logger: testLogger("consumer"))
        try await consumer.waitUntilAssigned(timeout: .seconds(20))

        let records = (0..<300).map { KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("r\($0)")) }
        _ = try await producer.send(batch: records)
        try await waitUntil("300 records in the sink") { sink.received.withLock { $0.count } >= 300 }

        let received = sink.received.withLock { $0 }
        #expect(received.map { text($0.value) } == records.map { text($0.value) })
        #expect(received.map(\.offset) == received.map(\.offset).sorted())
        #expect(!sink.calledOnTask.withLock { $0 }, "the sink runs on the consumer's thread, not in a Swift task")

        await consumer.shutdown()
        #expect(try await consumer.nextBatch(maxCount: 10) == nil, "a sink consumer's nextBatch only ends")
        await producer.shutdown(timeout: .seconds(5))
    }
}
