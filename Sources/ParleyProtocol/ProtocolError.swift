/// The `code` of an `error` frame.
public enum ErrorCode: String, Codable, Sendable, CaseIterable {
    case badRequest = "bad_request"
    case tooLarge = "too_large"
    case unknownType = "unknown_type"
    case invalidRecipient = "invalid_recipient"
    case rateLimited = "rate_limited"
    case unavailable = "unavailable"
}

/// Why a client frame was refused; becomes an `error` frame for that client.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String
    /// The client `id` of the refused `send`, when it could be read.
    public let clientID: String?

    public init(_ code: ErrorCode, _ message: String, clientID: String? = nil) {
        self.code = code
        self.message = message
        self.clientID = clientID
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The `error` frame for this failure.
    public var frame: ServerFrame { .error(code: code, message: message, id: clientID) }
}
