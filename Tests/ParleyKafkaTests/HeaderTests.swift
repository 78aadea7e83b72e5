import ParleyKafka
import ParleyTestSupport
import Testing

@Suite("Kafka record headers")
struct HeaderTests {
    @Test("headers round-trip in order, with repeated names, binary and empty values; records without keep none")
    func headersRoundTrip() async throws {
        let topic = TestEnvironment.uniquePrefix() + "headers"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("headers"), logger: testLogger("producer"))
        let headers = [
            KafkaHeader(name: "traceparent", value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            KafkaHeader(name: "binary", value: [0, 255, 7]),
            KafkaHeader(name: "empty", value: []),
            KafkaHeader(name: "binary", value: [1]),
        ]
        let sent = [
            KafkaOutgoingRecord(topic: topic, key: "with", value: bytes("a"), headers: headers),
            KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("b")),
            KafkaOutgoingRecord(topic: topic, key: nil, value: [], headers: [KafkaHeader(name: "only", value: "x")]),
        ]
        _ = try await producer.send(batch: sent)
        let consumer = try KafkaConsumer(configuration: testConfiguration("headers"),
                                         assignments: [(topic: topic, partition: 0, start: .beginning)],
                                         logger: testLogger("consumer"))
        let received = try await collect(consumer, count: sent.count)
        #expect(received.map(\.headers) == sent.map(\.headers))
        #expect(received[0].headers.first(named: "binary") == [0, 255, 7])
        #expect(received[0].headers.first(named: "missing") == nil)
        #expect(received.map(\.value) == sent.map(\.value))
        await consumer.shutdown()
        await producer.shutdown(timeout: .seconds(5))
    }
}

extension HeaderTests {
    @Test("a producer's headers closure stamps every record, keeping a record's own header of the same name")
    func producerStampsHeaders() async throws {
        let topic = TestEnvironment.uniquePrefix() + "stamped"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let stamp = KafkaHeader(name: "traceparent", value: "stamped")
        let producer = try KafkaProducer(configuration: testConfiguration("stamp"), headers: { [stamp] }, logger: testLogger("producer"))
        let own = KafkaHeader(name: "traceparent", value: "own")
        _ = try await producer.send(KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("single")))
        _ = try await producer.send(batch: [KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("plain")),
                                            KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("own"), headers: [own])])
        let consumer = try KafkaConsumer(configuration: testConfiguration("stamp"),
                                         assignments: [(topic: topic, partition: 0, start: .beginning)],
                                         logger: testLogger("consumer"))
        let received = try await collect(consumer, count: 3)
        #expect(received.map(\.headers) == [[stamp], [stamp], [own]])
        await consumer.shutdown()
        await producer.shutdown(timeout: .seconds(5))
    }
}
