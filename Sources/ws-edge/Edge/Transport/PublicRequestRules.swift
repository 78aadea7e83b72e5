import HTTPTypes
import Hummingbird

/// What every response of the public server carries, and which paths it never serves.
///
/// Paths must be canonical: `/` or segments of `A-Z a-z 0-9 - . _ ~` without empty, `.` or `..`
/// segments and without a trailing slash. Anything else — percent-encoding (`/%6detrics`,
/// `/index.html%00.js`), control or non-ASCII bytes, `//metrics`, `/./metrics`, `/metrics/` — is
/// refused before routing, so no route, file or proxy rule is ever reached by a second spelling
/// of a path.
struct PublicRequestRules: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            // The request target as sent: a URI parser would read `//metrics` as a host.
            let target = request.head.path ?? "/"
            let path = target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
            if let refusal = Self.refusal(path: path) { throw HTTPError(refusal, message: "malformed path") }
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        for (name, value) in Self.headers(host: request.head.authority) { response.headers[name] = value }
        return response
    }

    /// 400 for bytes or segments no public path has, 404 for empty segments; nil for a canonical path.
    static func refusal(path: String) -> HTTPResponse.Status? {
        guard path.first == "/" else { return .badRequest }
        guard path != "/" else { return nil }
        guard path.utf8.allSatisfy(pathBytes.contains) else { return .badRequest }
        for segment in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { return .notFound }
            if segment == "." || segment == ".." { return .badRequest }
        }
        return nil
    }

    /// The security headers: a CSP that allows this origin's scripts, styles and images and
    /// WebSockets to the same host (`host`: the request's, when it is a plain host[:port]),
    /// no framing, no MIME sniffing, no referrer.
    static func headers(host: String?) -> [(HTTPField.Name, String)] {
        let sockets = host.flatMap { host in
            !host.isEmpty && host.utf8.allSatisfy(hostBytes.contains) ? " ws://\(host) wss://\(host)" : nil
        } ?? ""
        // img-src allows data: for the page's empty icon (`<link rel="icon" href="data:,">`).
        let policy = "default-src 'self'; connect-src 'self'\(sockets); img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
            + "form-action 'self'; object-src 'none'"
        return [
            (.contentSecurityPolicy, policy),
            (.xContentTypeOptions, "nosniff"),
            (xFrameOptions, "DENY"),
            (referrerPolicy, "no-referrer"),
        ]
    }

    private static let pathBytes = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/".utf8)
    private static let hostBytes = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]".utf8)
    private static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    private static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
