/// An error from ``RedisClient`` or ``RedisConfiguration``.
///
/// Switch on ``code``; ``message`` is one human-readable line. A server error reply
/// (`-WRONGTYPE Operation against a key holding the wrong kind of value`) has code
/// ``Code/server`` and the reply text as its message; ``serverErrorPrefix`` gives its first
/// word (`WRONGTYPE`, `NOAUTH`, `ERR`, …).
public struct RedisError: Error, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case connection, timeout, server, `protocol`, invalidURL, invalidConfiguration
            case closed, authentication, replication
        }

        fileprivate let value: Value
        fileprivate init(_ value: Value) { self.value = value }

        /// The server could not be reached or the connection broke (refused, reset, closed by the peer, connect timeout).
        public static var connection: Self { .init(.connection) }
        /// A command got no reply within `commandTimeout`. The command may or may not have run.
        public static var timeout: Self { .init(.timeout) }
        /// The server answered with an error reply; ``RedisError/message`` is its text.
        public static var server: Self { .init(.server) }
        /// The reply could not be parsed, or a command was malformed before sending (e.g. empty).
        public static var `protocol`: Self { .init(.protocol) }
        /// The `redis://` URL is malformed.
        public static var invalidURL: Self { .init(.invalidURL) }
        /// A configuration value other than the URL is out of range (pool size, timeouts).
        public static var invalidConfiguration: Self { .init(.invalidConfiguration) }
        /// The client was closed with ``RedisClient/close()``.
        public static var closed: Self { .init(.closed) }
        /// AUTH (or SELECT) on a new connection was refused: wrong password or user, or a bad database.
        public static var authentication: Self { .init(.authentication) }
        /// A durable send's writes reached fewer replicas than wanted (`WAIT`) in time. The writes
        /// happened on the primary; a failover before they replicate may lose them.
        public static var replication: Self { .init(.replication) }

        public var description: String {
            switch value {
            case .connection: "connection"
            case .timeout: "timeout"
            case .server: "server"
            case .protocol: "protocol"
            case .invalidURL: "invalidURL"
            case .invalidConfiguration: "invalidConfiguration"
            case .closed: "closed"
            case .authentication: "authentication"
            case .replication: "replication"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// One line saying what went wrong.
    public var message: String
    /// The error that caused this one, if any.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// For ``Code/server`` errors, the first word of the reply (`WRONGTYPE`, `NOAUTH`, `ERR`…); otherwise nil.
    public var serverErrorPrefix: String? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var description: String {
        if let underlying { return "redis \(code): \(message) (\(underlying))" }
        return "redis \(code): \(message)"
    }
}
