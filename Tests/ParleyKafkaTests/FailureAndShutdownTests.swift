import ParleyKafka
import ParleyTestSupport
import Synchronization
import Testing

@Suite("Kafka failures and shutdown")
struct FailureAndShutdownTests {
    @Test("a send to a stopped broker throws instead of hanging")
    func sendToStoppedBroker() async throws {
        let broker = try await ManagedServer.start(.tansu)
        defer { broker.stop() }
        let topic = TestEnvironment.uniquePrefix() + "dead"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)], brokers: broker.address)
        var configuration = testConfiguration("dead", brokers: broker.address)
        configuration.messageTimeout = .seconds(3)
        let producer = try KafkaProducer(configuration: configuration, logger: testLogger("dead"))
        _ = try await producer.send(KafkaOutgoingRecord(topic: topic, key: "k", value: bytes("before")))

        broker.stop()
        let outcome = try await withTimeout(.seconds(30), "the send to a stopped broker to return") {
            do {
                let delivery = try await producer.send(KafkaOutgoingRecord(topic: topic, key: "k", value: bytes("after")))
                return "delivered at \(delivery.offset)"
            } catch let error as KafkaError {
                return "failed: \(error.code.name)"
            }
        }
        #expect(outcome.hasPrefix("failed"), "\(outcome)")
        await producer.shutdown(timeout: .seconds(1))
    }

    @Test("a send to a topic that does not exist throws")
    func sendToUnknownTopic() async throws {
        var configuration = testConfiguration("unknown")
        configuration.messageTimeout = .seconds(3)
        let producer = try KafkaProducer(configuration: configuration, logger: testLogger("unknown"))
        let topic = TestEnvironment.uniquePrefix() + "missing"
        let error = await #expect(throws: KafkaError.self) {
            _ = try await withTimeout(.seconds(30), "the send to a missing topic to return") {
                try await producer.send(KafkaOutgoingRecord(topic: topic, key: "k", value: bytes("v")))
            }
        }
        #expect([.unknownTopic, .unknownTopicOrPartition].contains(error?.code), "\(String(describing: error))")
        #expect(error?.message.contains(topic) == true)
        await producer.shutdown(timeout: .seconds(1))
    }

    @Test("shutdown is idempotent and ends the sequence")
    func shutdownIsIdempotent() async throws {
        let topic = TestEnvironment.uniquePrefix() + "shutdown"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("shutdown"), logger: testLogger("producer"))
        _ = try await producer.send(batch: (0..<3).map { KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("\($0)")) })

        let consumer = try KafkaConsumer(configuration: testConfiguration("shutdown"),
                                         assignments: [(topic: topic, partition: 0, start: .beginning)], logger: testLogger("consumer"))
        let seen = Mutex(0)
        let reader = Task {
            for try await _ in consumer { seen.withLock { $0 += 1 } }
            return seen.withLock { $0 }
        }
        try await waitUntil("3 records through the sequence") { seen.withLock { $0 } == 3 }

        async let first: Void = consumer.shutdown()
        async let second: Void = consumer.shutdown()
        _ = await (first, second)
        await consumer.shutdown()
        let count = try await withTimeout(.seconds(10), "the sequence to end") { try await reader.value }
        #expect(count == 3)
        #expect(try await consumer.nextBatch(maxCount: 10) == nil)
        #expect(!consumer.isAssigned)
        await #expect(throws: KafkaError.self) { try await consumer.waitUntilAssigned(timeout: .seconds(1)) }
        await #expect(throws: KafkaError.self) {
            try await consumer.commit([KafkaRecord(topic: topic, partition: 0, offset: 0, key: nil, value: [], timestamp: nil)])
        }

        await producer.shutdown(timeout: .seconds(5))
        await producer.shutdown(timeout: .seconds(5))
        let error = await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaOutgoingRecord(topic: topic, key: "k", value: bytes("late")))
        }
        #expect(error?.code == .shutDown)

        let admin = try KafkaAdmin(configuration: testConfiguration("admin"), logger: testLogger("admin"))
        await admin.shutdown()
        await admin.shutdown()
        await #expect(throws: KafkaError.self) {
            try await admin.createTopics([KafkaTopicSpec(name: topic)], timeout: .seconds(5))
        }
    }
}
