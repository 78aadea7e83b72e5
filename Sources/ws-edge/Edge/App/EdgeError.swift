/// An error of the edge itself.
struct EdgeError: Error, CustomStringConvertible {
    enum Code: String, Sendable {
        /// The edge is shutting down and takes no more work.
        case shuttingDown = "shutting_down"
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
