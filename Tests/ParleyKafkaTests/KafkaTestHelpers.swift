import Foundation
import Logging
import ParleyKafka
import ParleyTestSupport
import Testing

/// A logger for tests: quiet unless PARLEY_TEST_LOG_LEVEL says otherwise (e.g. `debug`).
func testLogger(_ name: String) -> Logger {
    var logger = Logger(label: "parley.kafka.test.\(name)")
    logger.logLevel = ProcessInfo.processInfo.environment["PARLEY_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}

/// Client settings for tests: the shared broker and a 2 s session timeout.
func testConfiguration(_ name: String, brokers: String = TestEnvironment.kafkaBrokers) -> KafkaConfiguration {
    var configuration = KafkaConfiguration(brokers: brokers, clientID: "test-\(name)")
    configuration.sessionTimeout = .seconds(2)
    return configuration
}

/// Creates topics through the admin API (tests never rely on auto-creation).
func createTopics(_ specs: [KafkaTopicSpec], brokers: String = TestEnvironment.kafkaBrokers) async throws {
    let admin = try KafkaAdmin(configuration: testConfiguration("admin", brokers: brokers), logger: testLogger("admin"))
    do {
        try await admin.createTopics(specs, timeout: .seconds(10))
    } catch {
        await admin.shutdown()
        throw error
    }
    await admin.shutdown()
}

/// Reads exactly `count` records (fails after `timeout`, or if the consumer ends early).
func collect(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(20)) async throws -> [KafkaRecord] {
    try await withTimeout(timeout, "\(count) records") {
        var records: [KafkaRecord] = []
        while records.count < count {
            guard let batch = try await consumer.nextBatch(maxCount: count - records.count) else {
                throw TestTimeout(what: "\(count) records: the consumer ended after \(records.count)")
            }
            records += batch
        }
        return records
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
