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

    @Test("deleteTopics removes the topics from the broker's metadata and leaves the others; deleting again succeeds")
    func deleteTopics() async throws {
        let prefix = TestEnvironment.uniquePrefix() + "delete."
        let admin = try KafkaAdmin(configuration: testConfiguration("admin"), logger: testLogger("admin"))
        try await admin.createTopics(["gone", "kept"].map { KafkaTopicSpec(name: prefix + $0, partitions: 1) }, timeout: .seconds(10))
        #expect(Set(try await admin.topicNames(prefix: "", timeout: .seconds(10)).filter { $0.hasPrefix(prefix) }) == [prefix + "gone", prefix + "kept"])

        try await admin.deleteTopics([prefix + "gone"], timeout: .seconds(10))
        #expect(try await admin.topicNames(prefix: "", timeout: .seconds(10)).filter { $0.hasPrefix(prefix) } == [prefix + "kept"])
        try await admin.deleteTopics([prefix + "gone"], timeout: .seconds(10))
        try await admin.deleteTopics([prefix + "kept"], timeout: .seconds(10))
        await admin.shutdown()
    }

    @Test("partitionCount reads the topic's partitions, also with a timeout under a second")
    func partitionCount() async throws {
        let topic = TestEnvironment.uniquePrefix() + "count"
        let admin = try KafkaAdmin(configuration: testConfiguration("admin"), logger: testLogger("admin"))
        try await admin.createTopics([KafkaTopicSpec(name: topic, partitions: 3)], timeout: .seconds(10))
        #expect(try await admin.partitionCount(of: topic, timeout: .seconds(10)) == 3)
        // A timeout cut to whole seconds would be 0 here, and the metadata request would time out at once.
        #expect(try await admin.partitionCount(of: topic, timeout: .milliseconds(900)) == 3)
        await admin.shutdown()
    }

    @Test("endOffsets names each partition's next offset")
    func endOffsets() async throws {
        let topic = TestEnvironment.uniquePrefix() + "ends"
        let admin = try KafkaAdmin(configuration: testConfiguration("admin"), logger: testLogger("admin"))
        try await admin.createTopics([KafkaTopicSpec(name: topic, partitions: 2)], timeout: .seconds(10))
        let producer = try KafkaProducer(configuration: testConfiguration("ends"), logger: testLogger("producer"))
        // One record per produce request, so the broker's answer is exact (see ``KafkaAdmin/endOffsets(of:timeout:)``).
        for n in 0..<3 { _ = try await producer.send(KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("\(n)"), partition: 1)) }
        #expect(try await admin.endOffsets(of: topic, timeout: .seconds(10)) == [0: 0, 1: 3])
        await producer.shutdown(timeout: .seconds(5))
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
