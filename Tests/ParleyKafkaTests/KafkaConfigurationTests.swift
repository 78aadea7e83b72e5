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

@Suite("Kafka security properties")
struct KafkaSecurityPropertiesTests {
    @Test("SASL/SCRAM over TLS becomes librdkafka's security.protocol, sasl.* and ssl.ca.location on every client; plaintext sets none")
    func properties() {
        var configuration = KafkaConfiguration(brokers: "127.0.0.1:1", clientID: "t")
        let keys = ["security.protocol", "sasl.mechanisms", "sasl.username", "sasl.password", "ssl.ca.location"]
        #expect(!configuration.producerProperties.contains { keys.contains($0.0) })
        configuration.security = KafkaSecurity(securityProtocol: .saslSSL,
                                               sasl: .init(mechanism: .scramSHA512, username: "relay", password: "pw"), caFile: "/ca.pem")
        let expected = [("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "SCRAM-SHA-512"), ("sasl.username", "relay"),
                        ("sasl.password", "pw"), ("ssl.ca.location", "/ca.pem")]
        for properties in [configuration.producerProperties, configuration.consumerProperties(groupID: "g", autoOffsetReset: "latest"),
                           configuration.adminProperties] {
            let security = properties.filter { keys.contains($0.0) }
            #expect(security.map(\.0) == expected.map(\.0) && security.map(\.1) == expected.map(\.1))
        }
        #expect(configuration.security.problem == nil)
        #expect(KafkaSecurity(securityProtocol: .saslPlaintext).problem != nil)
    }
}
