@testable import ParleyKafka
import ParleyTestSupport
import Testing

/// Each client's thread sleeps on its wake pipe. These tests prove by the pipe's record of why
/// each sleep ended that work and shutdown wake the thread through the pipe, so shutdown never
/// waits for a poll interval to run out.
@Suite("Kafka client threads")
struct ClientThreadTests {
    @Test("a producer's thread sleeps without a deadline: delivery reports and shutdown wake it through the pipe")
    func producer() async throws {
        let topic = TestEnvironment.uniquePrefix() + "thread-producer"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try KafkaProducer(configuration: testConfiguration("thread-producer"), logger: testLogger("producer"))
        let wake = producer.client.wake
        // Only the pipe can end a sleep without a deadline: the delivery report arrives through it.
        _ = try await producer.send(KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("v")))
        try await waitUntil("the producer thread to sleep") { wake.sleep == .untilSignalled }
        try await withTimeout(.seconds(30), "the producer to shut down") { await producer.shutdown(timeout: .seconds(5)) }
        #expect(wake.lastWakeupCause == .signal)
        #expect(wake.wakeupsAtDeadline == 0, "a producer's thread never sleeps with a deadline")
    }

    @Test("a sleeping consumer's thread is woken by shutdown through the pipe, not by its sleep's deadline")
    func consumer() async throws {
        let topic = TestEnvironment.uniquePrefix() + "thread-consumer"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let consumer = try KafkaConsumer(configuration: testConfiguration("thread-consumer"),
                                         assignments: [(topic: topic, partition: 0, start: .beginning)], logger: testLogger("consumer"))
        try await consumer.waitUntilAssigned(timeout: .seconds(20))
        let wake = consumer.client.wake
        // Assigned, it sleeps until its next lag refresh (a deadline).
        try await waitUntil("the consumer thread to sleep") { wake.sleep == .untilDeadline }
        try await withTimeout(.seconds(30), "the consumer to shut down") { await consumer.shutdown() }
        #expect(wake.lastWakeupCause == .signal)
        #expect(try await consumer.nextBatch(maxCount: 1) == nil)
    }

    @Test("an admin client's thread sleeps without a deadline when idle: results and shutdown wake it through the pipe")
    func admin() async throws {
        let topic = TestEnvironment.uniquePrefix() + "thread-admin"
        let admin = try KafkaAdmin(configuration: testConfiguration("thread-admin"), logger: testLogger("admin"))
        let wake = admin.client.wake
        try await admin.createTopics([KafkaTopicSpec(name: topic, partitions: 2)], timeout: .seconds(10))
        #expect(try await admin.partitionCount(of: topic, timeout: .seconds(10)) == 2)
        try await waitUntil("the admin thread to sleep") { wake.sleep == .untilSignalled }
        try await withTimeout(.seconds(30), "the admin client to shut down") { await admin.shutdown() }
        #expect(wake.lastWakeupCause == .signal)
        #expect(wake.wakeupsAtDeadline == 0, "requests answered in time: no sleep ran out")
    }

    @Test("shutdown fails an admin request still waiting for its answer instead of letting it time out")
    func adminPendingRequest() async throws {
        // Nothing listens on port 1: the request waits for a broker until its deadline.
        var quiet = testLogger("admin")
        quiet.logLevel = .critical  // connection refused, again and again
        let admin = try KafkaAdmin(configuration: testConfiguration("thread-admin", brokers: "127.0.0.1:1"), logger: quiet)
        let request = Task {
            try await admin.createTopics([KafkaTopicSpec(name: TestEnvironment.uniquePrefix() + "never")], timeout: .seconds(60))
        }
        // The admin thread sleeps with a deadline only while a request waits for its answer.
        try await waitUntil("the request to be pending") { admin.client.wake.sleep == .untilDeadline }
        try await withTimeout(.seconds(30), "the admin client to shut down") { await admin.shutdown() }
        let error = await #expect(throws: KafkaError.self) {
            try await withTimeout(.seconds(30), "the request to fail") { try await request.value }
        }
        #expect(error?.code == .shutDown)
    }
}
