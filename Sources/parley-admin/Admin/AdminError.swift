/// Why `parley-admin` could not answer.
public struct AdminError: Error, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Kafka could not be read (to its end).
        case kafka
        /// Redis could not be read.
        case redis
    }

    public let code: Code
    /// What went wrong, as the tool prints it.
    public let message: String
    /// The error underneath, if any.
    public let underlying: (any Error)?

    init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { "\(code.rawValue): \(message)" + (underlying.map { " (\($0))" } ?? "") }
}
