import CRDKafka
import Foundation
@testable import ParleyKafka
import ParleyTestSupport
import Testing

@Suite("Offset gap guard (pure logic)")
struct OffsetGapGuardTests {
    let partition = TopicPartition(topic: "t", partition: 0)
    let start = ContinuousClock.now

    @Test("contiguous offsets pass; the first record of an unknown partition sets the expectation")
    func contiguous() {
        var gaps = OffsetGapGuard(timeout: .seconds(2))
        #expect(gaps.admit(partition, offset: 40, now: start) == .accept)
        #expect(gaps.admit(partition, offset: 41, now: start) == .accept)
        #expect(gaps.admit(partition, offset: 41, now: start) == .drop)  // a re-fetch
        #expect(!gaps.hasOpenGaps)
    }

    @Test("a record past the expected offset seeks back; the missing one closes the gap")
    func filled() {
        var gaps = OffsetGapGuard(timeout: .seconds(2), reseekInterval: .milliseconds(20))
        #expect(gaps.admit(partition, offset: 0, now: start) == .accept)
        #expect(gaps.admit(partition, offset: 2, now: start) == .seek(1))
        #expect(gaps.admit(partition, offset: 3, now: start) == .drop)
        #expect(gaps.hasOpenGaps)
        #expect(gaps.due(now: start + .milliseconds(5)).isEmpty)
        #expect(gaps.due(now: start + .milliseconds(25)) == [.init(partition: partition, offset: 1, skipped: false)])
        #expect(gaps.admit(partition, offset: 1, now: start + .milliseconds(30)) == .accept)
        #expect(!gaps.hasOpenGaps)
        #expect(gaps.admit(partition, offset: 2, now: start + .milliseconds(30)) == .accept)
        #expect(gaps.admit(partition, offset: 3, now: start + .milliseconds(30)) == .accept)
    }

    @Test("a gap open longer than the timeout is skipped to the lowest offset seen past it")
    func skipped() {
        var gaps = OffsetGapGuard(timeout: .milliseconds(100))
        _ = gaps.admit(partition, offset: 9, now: start)
        #expect(gaps.admit(partition, offset: 12, now: start) == .seek(10))
        #expect(gaps.admit(partition, offset: 11, now: start) == .drop)
        #expect(gaps.due(now: start + .milliseconds(150)) == [.init(partition: partition, offset: 11, skipped: true)])
        #expect(!gaps.hasOpenGaps)
        #expect(gaps.admit(partition, offset: 11, now: start + .milliseconds(160)) == .accept)
        #expect(gaps.admit(partition, offset: 12, now: start + .milliseconds(160)) == .accept)
    }

    @Test("expect() drops records below a known start; forget() accepts a restart anywhere")
    func expectAndForget() {
        var gaps = OffsetGapGuard(timeout: .seconds(2))
        gaps.expect(partition, at: 5)
        #expect(gaps.admit(partition, offset: 4, now: start) == .drop)
        #expect(gaps.admit(partition, offset: 5, now: start) == .accept)
        gaps.forget([partition])
        #expect(gaps.admit(partition, offset: 2, now: start) == .accept)  // redelivery after a rebalance
        let other = TopicPartition(topic: "t", partition: 1)
        #expect(gaps.admit(other, offset: 7, now: start) == .accept)
    }
}

@Suite("Kafka consumer and offset gaps")
struct OffsetGapConsumerTests {
    @Test("a hole that never fills (a transaction marker) is waited for, counted, then passed; nothing after it is lost")
    func permanentHole() async throws {
        let topic = TestEnvironment.uniquePrefix() + "gap"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        // Offsets 0 and 1 are the transaction's records, 2 its commit marker (never fetched).
        try await onThread { try produceInTransaction(topic: topic, values: ["tx-0", "tx-1"]) }
        let producer = try KafkaProducer(configuration: testConfiguration("gap"), logger: testLogger("producer"))
        _ = try await producer.send(batch: (0..<3).map { KafkaOutgoingRecord(topic: topic, key: nil, value: bytes("after-\($0)")) })

        var configuration = testConfiguration("gap-consumer")
        configuration.offsetGapTimeout = .milliseconds(500)
        let consumer = try KafkaConsumer(configuration: configuration, assignments: [(topic: topic, partition: 0, start: .beginning)],
                                         logger: testLogger("gap-consumer"))
        let records = try await collect(consumer, count: 5)
        #expect(records.map { text($0.value) } == ["tx-0", "tx-1", "after-0", "after-1", "after-2"])
        #expect(records.map(\.offset) == [0, 1, 3, 4, 5])
        #expect(consumer.offsetGaps.found >= 1)
        #expect(consumer.offsetGaps.skipped == 1)

        await consumer.shutdown()
        await producer.shutdown(timeout: .seconds(5))
    }
}

extension OffsetGapConsumerTests {
    @Test("records of several concurrent producers on one partition are handed out in offset order without gaps")
    func concurrentProducers() async throws {
        let topic = TestEnvironment.uniquePrefix() + "gap-concurrent"
        try await createTopics([KafkaTopicSpec(name: topic, partitions: 1)])
        let consumer = try KafkaConsumer(configuration: testConfiguration("concurrent-consumer"),
                                         assignments: [(topic: topic, partition: 0, start: .beginning)],
                                         logger: testLogger("concurrent-consumer"))
        // Four producers (four connections, as four edges), 2,000 records each in batches of 20,
        // all at once: the situation in which Tansu 0.6 showed later batches before earlier ones.
        let producers = try (0..<4).map { try KafkaProducer(configuration: testConfiguration("concurrent-\($0)"), logger: testLogger("producer")) }
        let sent = try await withThrowingTaskGroup(of: [String].self) { group in
            for (index, producer) in producers.enumerated() {
                group.addTask {
                    var values: [String] = []
                    for batch in 0..<100 {
                        let records = (0..<20).map { "p\(index)-\(batch * 20 + $0)" }
                        _ = try await producer.send(batch: records.map { KafkaOutgoingRecord(topic: topic, key: nil, value: bytes($0)) })
                        values += records
                    }
                    return values
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let records = try await collect(consumer, count: sent.count, timeout: .seconds(60))
        #expect(records.map(\.offset) == Array(0..<Int64(sent.count)))
        #expect(Set(records.map { text($0.value) }) == Set(sent))
        #expect(consumer.offsetGaps.skipped == 0)
        await consumer.shutdown()
        for producer in producers { await producer.shutdown(timeout: .seconds(5)) }
    }
}

/// Produces `values` to partition 0 of `topic` in one committed transaction (blocking).
private func produceInTransaction(topic: String, values: [String]) throws {
    struct Failure: Error, CustomStringConvertible { let description: String }
    var text = [CChar](repeating: 0, count: 512)
    let conf = rd_kafka_conf_new()
    for (key, value) in [("bootstrap.servers", TestEnvironment.kafkaBrokers), ("transactional.id", "test-tx-\(UUID().uuidString)")] {
        guard rd_kafka_conf_set(conf, key, value, &text, text.count) == RD_KAFKA_CONF_OK else {
            throw Failure(description: cString(text))
        }
    }
    guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &text, text.count) else { throw Failure(description: cString(text)) }
    defer { rd_kafka_destroy(handle) }
    func check(_ error: OpaquePointer?, _ step: String) throws {
        guard let error else { return }
        defer { rd_kafka_error_destroy(error) }
        throw Failure(description: "\(step): \(String(cString: rd_kafka_error_string(error)))")
    }
    try check(rd_kafka_init_transactions(handle, 10_000), "init")
    try check(rd_kafka_begin_transaction(handle), "begin")
    guard let topicHandle = rd_kafka_topic_new(handle, topic, nil) else { throw Failure(description: "topic handle") }
    defer { rd_kafka_topic_destroy(topicHandle) }
    for value in values {
        var bytes = Array(value.utf8)
        guard rd_kafka_produce(topicHandle, 0, RD_KAFKA_MSG_F_COPY, &bytes, bytes.count, nil, 0, nil) == 0 else {
            throw Failure(description: "produce")
        }
    }
    try check(rd_kafka_commit_transaction(handle, 10_000), "commit")
}

/// Runs a blocking call on its own thread, off the cooperative pool.
private func onThread(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
