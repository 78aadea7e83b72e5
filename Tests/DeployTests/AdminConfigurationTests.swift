import Admin
import Foundation
import ParleyKafka
import ParleyServiceKit
import Testing

/// parley-admin reads the same broker as the services, so it takes the same Kafka connection
/// settings (a secured broker included).
@Suite("parley-admin configuration")
struct AdminConfigurationTests {
    @Test("the Kafka security settings and extra properties reach parley-admin's connection")
    func kafkaLikeTheServices() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("parley-admin-\(UUID().uuidString)").path
        try "s3cret\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let arguments = ["--kafka-security-protocol", "sasl_ssl", "--kafka-sasl-username", "admin", "--kafka-sasl-password-file", file,
                         "--kafka-ssl-ca-file", "/etc/ca.pem", "--kafka-properties", "socket.timeout.ms=5000"]
        guard case .run(let admin) = try AdminConfiguration.load(arguments: arguments, environment: [:]) else {
            Issue.record("parley-admin answered --help")
            return
        }
        #expect(admin.kafka.security == KafkaSecurity(securityProtocol: .saslSSL, sasl: .init(mechanism: .scramSHA512, username: "admin", password: "s3cret"),
                                                      caFile: "/etc/ca.pem"))
        #expect(admin.kafka.properties == ["socket.timeout.ms": "5000"])
        #expect(admin.kafka.clientID == AdminConfiguration.serviceName)
    }
}
