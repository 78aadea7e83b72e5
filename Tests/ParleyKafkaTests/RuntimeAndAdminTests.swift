import ParleyKafka
import ParleyTestSupport
import Testing

@Suite("Kafka runtime and admin")
struct RuntimeAndAdminTests {
    @Test("the loaded librdkafka is 2.2 or newer")
    func runtimeIsNewEnough() throws {
        try checkKafkaRuntime()
        let parts = kafkaRuntimeVersion.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count >= 2)
        #expect(parts.count >= 2 && (parts[0], parts[1]) >= (2, 2), "runtime \(kafkaRuntimeVersion)")
    }

    @Test("creating a topic twice succeeds, and the topic works")
    func createTopicsTwice() async throws {
        let topic = TestEnvironment.uniquePrefix() + "twice"
        let admin = try KafkaAdmin(configuration: testConfiguration("admin"), logger: testLogger("admin"))
        try await admin.createTopics([KafkaTopicSpec(name: topic, partitions: 2)], timeout: .seconds(10))
        try await admin.createTopics([KafkaTopicSpec(name: topic, partitions: 2)], timeout: .seconds(10))

        let producer = try KafkaProducer(configuration: testConfiguration("twice"), logger: testLogger("producer"))
        let delivery = try await producer.send(KafkaOutgoingRecord(topic: topic, key: "k", value: bytes("v")))
        #expect(delivery.topic == topic)
        #expect((0..<2).contains(delivery.partition))
        await producer.shutdown(timeout: .seconds(5))

        try await admin.deleteTopics([topic], timeout: .seconds(10))
        await admin.shutdown()
    }

    @Test("invalid configuration is rejected with the setting's name")
    func invalidConfiguration() throws {
        var configuration = testConfiguration("bad")
        configuration.properties["no.such.property"] = "1"
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: configuration, logger: testLogger("bad"))
        }
        #expect(error?.message.contains("no.such.property") == true)
    }
}
