/// How a client proves itself to the brokers and protects the connection: librdkafka's
/// `security.protocol`, `sasl.mechanisms`, `sasl.username`, `sasl.password` and
/// `ssl.ca.location`. The default is plaintext without authentication (a test broker).
public struct KafkaSecurity: Sendable, Equatable {
    /// `security.protocol`.
    public enum SecurityProtocol: String, Sendable, CaseIterable {
        case plaintext = "PLAINTEXT"
        case ssl = "SSL"
        case saslPlaintext = "SASL_PLAINTEXT"
        case saslSSL = "SASL_SSL"

        /// Whether the protocol authenticates with SASL (and so needs ``KafkaSecurity/sasl``).
        public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
        /// Whether the connection is TLS.
        public var usesTLS: Bool { self == .ssl || self == .saslSSL }
    }

    /// `sasl.mechanisms`.
    public enum Mechanism: String, Sendable, CaseIterable {
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
        case plain = "PLAIN"
    }

    /// A SASL user: the mechanism and the user's credentials.
    public struct SASL: Sendable, Equatable {
        public var mechanism: Mechanism
        public var username: String
        public var password: String

        public init(mechanism: Mechanism, username: String, password: String) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    public var securityProtocol: SecurityProtocol
    /// Set exactly when ``securityProtocol`` uses SASL.
    public var sasl: SASL?
    /// A PEM file of the CAs that sign the brokers' certificates (TLS protocols only); nil: the
    /// system's CAs.
    public var caFile: String?

    /// Plaintext, no authentication.
    public static let plaintext = KafkaSecurity(securityProtocol: .plaintext)

    /// A security configuration; ``problem`` says whether it can work.
    public init(securityProtocol: SecurityProtocol, sasl: SASL? = nil, caFile: String? = nil) {
        self.securityProtocol = securityProtocol
        self.sasl = sasl
        self.caFile = caFile
    }

    /// Why this combination cannot work, or nil.
    public var problem: String? {
        if securityProtocol.usesSASL {
            guard let sasl else { return "\(securityProtocol.rawValue) needs a SASL user and password" }
            if sasl.username.isEmpty || sasl.password.isEmpty { return "\(securityProtocol.rawValue) needs a SASL user and password" }
        } else if sasl != nil {
            return "a SASL user needs security protocol SASL_PLAINTEXT or SASL_SSL, not \(securityProtocol.rawValue)"
        }
        if caFile != nil, !securityProtocol.usesTLS {
            return "a CA file needs security protocol SSL or SASL_SSL, not \(securityProtocol.rawValue)"
        }
        return nil
    }

    /// The librdkafka properties (none for plaintext).
    var properties: [(String, String)] {
        var result: [(String, String)] = []
        if securityProtocol != .plaintext { result.append(("security.protocol", securityProtocol.rawValue)) }
        if let sasl {
            result += [("sasl.mechanisms", sasl.mechanism.rawValue), ("sasl.username", sasl.username), ("sasl.password", sasl.password)]
        }
        if let caFile { result.append(("ssl.ca.location", caFile)) }
        return result
    }
}
