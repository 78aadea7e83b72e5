/// The `code` of an `error` frame.
public enum ErrorCode: String, Sendable, CaseIterable, WireEnum {
    case badRequest = "bad_request"
    case tooLarge = "too_large"
    case unknownType = "unknown_type"
    case invalidRecipient = "invalid_recipient"
    case notMember = "not_member"
    case forbidden
    case blocked
    case quotaExceeded = "quota_exceeded"
    case rateLimited = "rate_limited"
    case unavailable = "unavailable"
}

/// Why a client frame was refused; its wire form is the `error` frame for that client.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    /// The client `id` of the refused frame, when it could be read (`id` on the wire).
    public var clientID: String?

    public init(_ code: ErrorCode, _ message: String, clientID: String? = nil) {
        self.code = code
        self.message = message
        self.clientID = clientID
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The `error` frame for this failure.
    public var frame: ServerFrame { .error(self) }
}

extension ProtocolError: WireObject {
    public static var wire: WireTable<ProtocolError> {
        WireTable(ProtocolError(.badRequest, "")) { e, f in
            f.field("code", &e.code)
            f.field("message", &e.message)
            f.field("id", &e.clientID)
        }
    }
}
