/// Why a token source could not be used.
struct AuthError: Error, CustomStringConvertible {
    enum Code: String, Sendable {
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

    var description: String {
        "\(code.rawValue): \(message)" + (underlying.map { " (\($0))" } ?? "")
    }
}
