import Foundation
import HTTPTypes
import Hummingbird
import ParleyProtocol

/// A refused server API request: its HTTP status and `{"error":{"code","message"}}` (the codes
/// of the client protocol's `error` frame, plus `unauthorized` and `timeout`).
struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    let underlying: (any Error)?

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, underlying: (any Error)? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The HTTP form of a protocol refusal (a bad body, or offline-svc's answer to a query).
    init(_ error: ProtocolError) {
        let status: HTTPResponse.Status = switch error.code {
        case .notMember, .forbidden, .blocked: .forbidden
        case .rateLimited, .quotaExceeded: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .tooLarge: .contentTooLarge
        case .badRequest, .unknownType, .invalidRecipient: .badRequest
        }
        self.init(status, error.code.rawValue, error.message)
    }

    static let unauthorized = APIError(.unauthorized, "unauthorized", "a valid API key is required: Authorization: Bearer <key>")
    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, ErrorCode.badRequest.rawValue, message) }
    static func unavailable(_ what: String, underlying: (any Error)? = nil) -> APIError {
        APIError(.serviceUnavailable, ErrorCode.unavailable.rawValue, "\(what) not accepted by the broker, retry", underlying: underlying)
    }
    static func timeout(_ what: String) -> APIError {
        APIError(.gatewayTimeout, "timeout", "no answer from \(what) in time, retry")
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        let body = try JSONEncoder().encode(["error": ["code": code, "message": message]])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    var description: String { "\(code): \(message)" + (underlying.map { " (\($0))" } ?? "") }
}
