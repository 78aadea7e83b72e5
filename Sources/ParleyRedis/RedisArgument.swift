/// One binary-safe argument of a command.
///
/// Write arguments as string literals (`"GET"`), interpolations (`"inbox:{\(user)}"`), or with
/// the initialisers for strings, bytes and numbers.
public struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The bytes sent to the server.
    public var bytes: [UInt8]

    /// The UTF-8 bytes of a string.
    public init(_ s: String) { bytes = Array(s.utf8) }
    /// Raw bytes, sent as they are.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    /// A decimal integer.
    public init(_ n: Int) { bytes = Array(String(n).utf8) }
    /// A decimal integer.
    public init(_ n: Int64) { bytes = Array(String(n).utf8) }
    /// A floating-point number as Redis parses it (`1.5`, `inf`, `-inf`).
    public init(_ d: Double) { bytes = Array(d.description.utf8) }

    public init(stringLiteral value: String) { self.init(value) }

    /// The argument as text (lossy for binary values), for logs and debugging.
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}
