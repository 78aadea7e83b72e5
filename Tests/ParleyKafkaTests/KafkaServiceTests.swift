import ParleyKafka
import ParleyTestSupport
import ServiceLifecycle
import Testing

@Suite("Kafka clients as Services")
struct KafkaServiceTests {
    @Test("producer, admin and consumer work inside a ServiceGroup and close on its graceful shutdown")
    func gracefulShutdown() async throws {
        let topic = TestEnvironment.uniquePrefix() + "services"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("services"), logger: testLogger("producer"))
        let admin = try KafkaAdmin(configuration: testConfiguration("services"), logger: testLogger("admin"))
        let consumer = try KafkaConsumer(configuration: testConfiguration("services"),
                                         assignments: [(topic: topic, partition: 0, start: .beginning)], logger: testLogger("consumer"))
        let group = ServiceGroup(configuration: .init(services: [producer, admin, consumer], logger: testLogger("group")))
        let running = Task { try await group.run() }

        _ = try await producer.send(KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("while running")))
        #expect(try await collect(consumer, count: 1).map { text($0.value) } == ["while running"])
        #expect(try await admin.partitionCount(of: topic, timeout: .seconds(10)) == 1)

        await group.triggerGracefulShutdown()
        try await withTimeout(.seconds(30), "the group to stop") { try await running.value }
        #expect(try await consumer.nextBatch(maxCount: 1) == nil)
        let sendError = await #expect(throws: KafkaError.self) {
            try await producer.send(KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("after")))
        }
        #expect(sendError?.code == .shutDown)
        let adminError = await #expect(throws: KafkaError.self) { try await admin.partitionCount(of: topic, timeout: .seconds(10)) }
        #expect(adminError?.code == .shutDown)
    }

    @Test("cancelling a client's run() shuts the client down")
    func cancellation() async throws {
        let prefix = TestEnvironment.uniquePrefix()
        try await createTopics([KafkaTopicSpec(name: prefix + "cancel", partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("cancel"), logger: testLogger("producer"))
        let admin = try KafkaAdmin(configuration: testConfiguration("cancel"), logger: testLogger("admin"))
        let consumer = try KafkaConsumer(configuration: testConfiguration("cancel"), groupID: prefix + "group",
                                         topics: [prefix + "cancel"], logger: testLogger("consumer"))
        let runs = [Task { await producer.run() }, Task { await admin.run() }, Task { await consumer.run() }]
        for run in runs { run.cancel() }
        try await withTimeout(.seconds(30), "the clients to close") { for run in runs { await run.value } }
        #expect(try await consumer.nextBatch(maxCount: 1) == nil)
        await #expect(throws: KafkaError.self) { try await producer.send(KafkaOutgoingRecord(topic: "t", key: nil, value: [])) }
        await #expect(throws: KafkaError.self) { try await admin.deleteTopics(["t"], timeout: .seconds(1)) }
    }
}
