@testable import ParleyKafka
import Testing

@Suite("Kafka client settings")
struct KafkaConfigurationTests {
    func fetchWait(_ configuration: KafkaConfiguration) -> String? {
        configuration.consumerProperties(groupID: "g", autoOffsetReset: "earliest").last { $0.0 == "fetch.wait.max.ms" }?.1
    }

    @Test("background consumers wait longer for empty fetches, but never longer than asked or than librdkafka's default")
    func backgroundFetchWait() {
        var configuration = KafkaConfiguration(brokers: "127.0.0.1:1", clientID: "t")
        #expect(fetchWait(configuration) == "10")
        #expect(fetchWait(configuration.background) == "100")
        configuration.fetchWait = .milliseconds(30)
        #expect(fetchWait(configuration.background) == "30")
        configuration.fetchWait = nil
        configuration.lowLatency = false
        #expect(fetchWait(configuration) == nil)
        #expect(fetchWait(configuration.background) == nil)
        configuration.properties = ["fetch.wait.max.ms": "7"]
        #expect(fetchWait(configuration.background) == "7")
    }

    @Test("linger is the producers' linger.ms; unset leaves librdkafka's default; properties override it")
    func linger() {
        func linger(_ configuration: KafkaConfiguration) -> String? {
            configuration.producerProperties.last { $0.0 == "linger.ms" }?.1
        }
        var configuration = KafkaConfiguration(brokers: "127.0.0.1:1", clientID: "t")
        #expect(linger(configuration) == nil)
        configuration.linger = .milliseconds(10)
        #expect(linger(configuration) == "10")
        configuration.properties = ["linger.ms": "3"]
        #expect(linger(configuration) == "3")
    }
}
