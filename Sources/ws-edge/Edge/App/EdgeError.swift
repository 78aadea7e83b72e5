/// An error of the edge itself (its lifecycle, its token sources).
struct EdgeError: Error, CustomStringConvertible {
    enum Code: String, Sendable {
        /// The edge is shutting down and takes no more work.
        case shuttingDown = "shutting_down"
        /// The identity provider's JWKS could not be fetched or read.
        case jwksUnavailable = "jwks_unavailable"
        /// A dev-login token was asked for while dev login is off.
        case devLoginOff = "dev_login_off"
    }

    let code: Code
    let message: String
    let underlying: (any Error)?

    init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    static let shuttingDown = EdgeError(.shuttingDown, "the edge is shutting down")

    var description: String {
        "\(code.rawValue): \(message)" + (underlying.map { " (\($0))" } ?? "")
    }
}
