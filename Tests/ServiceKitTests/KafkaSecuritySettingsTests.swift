import Foundation
import ParleyKafka
import ParleyServiceKit
import Testing

/// The Kafka security settings (SASL/SCRAM, TLS) as CommonConfiguration maps them; the password
/// comes from a file. Tansu, the test broker, can authenticate with SCRAM but cannot be seeded
/// with a user while it requires authentication, so the broker side is checked in compose only.
@Suite("Kafka security settings")
struct KafkaSecuritySettingsTests {
    let settings = SettingsTests()

    func passwordFile(_ content: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("parley-kafka-\(UUID().uuidString)").path
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("plaintext without a user by default")
    func defaults() throws {
        #expect(try settings.load([]).common.kafka.security == .plaintext)
    }

    @Test("sasl_ssl with a SCRAM user: the password is the file's content without its trailing newline")
    func scram() throws {
        let file = try passwordFile("s3cret\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let security = try settings.load(["--kafka-security-protocol", "sasl_ssl", "--kafka-sasl-username", "relay",
                                          "--kafka-sasl-password-file", file, "--kafka-ssl-ca-file", "/etc/ca.pem"]).common.kafka.security
        #expect(security == KafkaSecurity(securityProtocol: .saslSSL,
                                          sasl: .init(mechanism: .scramSHA512, username: "relay", password: "s3cret"), caFile: "/etc/ca.pem"))
        let sha256 = try settings.load(["--kafka-security-protocol", "SASL_PLAINTEXT", "--kafka-sasl-mechanism", "scram-sha-256",
                                        "--kafka-sasl-username", "relay", "--kafka-sasl-password-file", file]).common.kafka.security
        #expect(sha256.sasl?.mechanism == .scramSHA256 && sha256.securityProtocol == .saslPlaintext)
    }

    @Test("the password never shows in the settings logged at start")
    func passwordNotShown() throws {
        let file = try passwordFile("s3cret")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let shown = try settings.load(["--kafka-security-protocol", "sasl_plaintext", "--kafka-sasl-username", "relay",
                                       "--kafka-sasl-password-file", file]).common.shownSettings
        #expect(!shown.contains { $0.value.contains("s3cret") })
    }

    @Test("bad values and combinations stop the process with one line naming the setting")
    func refused() throws {
        let file = try passwordFile("s3cret")
        let empty = try passwordFile("\n")
        defer { for path in [file, empty] { try? FileManager.default.removeItem(atPath: path) } }
        let cases: [([String], String)] = [
            (["--kafka-security-protocol", "tls"], "PARLEY_KAFKA_SECURITY_PROTOCOL"),
            (["--kafka-security-protocol", "sasl_plaintext"], "needs a SASL user and password"),
            (["--kafka-security-protocol", "sasl_plaintext", "--kafka-sasl-username", "relay"], "needs a SASL user and password"),
            (["--kafka-sasl-username", "relay", "--kafka-sasl-password-file", file], "not PLAINTEXT"),
            (["--kafka-ssl-ca-file", "/etc/ca.pem"], "a CA file needs"),
            (["--kafka-security-protocol", "sasl_plaintext", "--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-username", "relay",
              "--kafka-sasl-password-file", file], "PARLEY_KAFKA_SASL_MECHANISM"),
            (["--kafka-security-protocol", "sasl_plaintext", "--kafka-sasl-username", "relay", "--kafka-sasl-password-file", "/nonexistent/pw"],
             "PARLEY_KAFKA_SASL_PASSWORD_FILE: cannot read /nonexistent/pw"),
            (["--kafka-security-protocol", "sasl_plaintext", "--kafka-sasl-username", "relay", "--kafka-sasl-password-file", empty],
             "PARLEY_KAFKA_SASL_PASSWORD_FILE: \(empty) is empty"),
        ]
        for (arguments, expected) in cases {
            let message = try #require(settings.failure(arguments), "\(arguments) was accepted")
            #expect(message.contains(expected), "\(arguments): \(message)")
            #expect(!message.contains("\n") && !message.contains("s3cret"))
        }
    }
}
