/// Why bytes could not be read as a wire type.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Not JSON as RFC 8259 defines it (or nested deeper than the reader allows).
        case syntax
        /// JSON, but a value has the wrong type or range (a number for a string, `1.5` for an
        /// integer, an unknown enum value).
        case shape
        /// A required key is absent.
        case missing
        /// A key the type reads appears twice in one object.
        case duplicate
        /// An id in an envelope is malformed (``Identifier``, ``Conversation``): the envelope
        /// was not written by a Parley process and is dropped.
        case invalidID
    }

    public let code: Code
    public let message: String
    /// Where in the input it was noticed, in bytes.
    public let offset: Int

    init(_ code: Code, _ message: String, at offset: Int) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(message) at byte \(offset)" }
}
