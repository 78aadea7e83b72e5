import Foundation
import Hummingbird
import HummingbirdCore
import NIOHTTP1
import ParleyProtocol
import ParleyServiceKit

/// The edge's public HTTP routes: dev login, token check, the WebSocket endpoints (the web client
/// is served by a file middleware). Health, readiness and metrics are on the admin port only.
enum EdgeRoutes {
    struct LoginRequest: Decodable { let user: String }
    struct LoginResponse: ResponseEncodable { let token: String; let user: String }
    struct WhoAmI: ResponseEncodable { let user: String }

    static func add(to router: Router<BasicRequestContext>, edge: EdgeContext) {
        if edge.configuration.devLogin {
            router.post("/api/login") { request, context -> LoginResponse in
                let body = try await request.body.collect(upTo: 4096)
                guard let login = try? JSONDecoder().decode(LoginRequest.self, from: Data(buffer: body)) else {
                    throw HTTPError(.badRequest, message: "expected {\"user\":\"<id>\"}")
                }
                guard Identifier.isValid(login.user) else {
                    throw HTTPError(.badRequest, message: "user must be 1-64 characters of A-Z a-z 0-9 _ . -")
                }
                return LoginResponse(token: try await edge.authority.issue(user: login.user), user: login.user)
            }
        }
        router.get("/api/whoami") { request, _ -> WhoAmI in
            guard let user = authenticate(request, edge: edge) else { throw HTTPError(.unauthorized) }
            return WhoAmI(user: user)
        }
        // Upgrades are taken before routing (``EdgeChildChannel``); what reaches these routes was
        // not admitted, or is no upgrade at all.
        router.get("/ws") { request, _ -> Response in
            try checkOrigin(request, edge: edge)
            _ = try sessionRequest(request.uri, authorization: request.headers[.authorization], edge: edge).get()
            throw HTTPError(.upgradeRequired, message: "expected a WebSocket upgrade")
        }
        if edge.configuration.servesSeedRead {
            // The seed tutorial's endpoint: no token, the user named in the query, raw text frames.
            router.get("/read") { request, _ -> Response in
                try checkOrigin(request, edge: edge)
                _ = try sessionRequest(request.uri, authorization: nil, edge: edge).get()
                throw HTTPError(.upgradeRequired, message: "expected a WebSocket upgrade")
            }
        }
    }

    /// What a WebSocket upgrade request may open, or why it may not (the answer to it): on
    /// `/ws`, a valid token (401), valid `device`, `since` and `epoch` (400), while the edge
    /// accepts sessions (503); on `/read` (dev login on a loopback listener only), a valid `user`
    /// (400), a seed session.
    static func sessionRequest(_ uri: URI, authorization: String?, edge: EdgeContext) -> Result<SessionRequest, HTTPError> {
        let query = uri.queryParameters
        switch uri.path {
        case "/ws":
            guard let user = token(query: query.get("token"), authorization: authorization).flatMap(edge.authority.user(for:)) else {
                return .failure(HTTPError(.unauthorized))
            }
            let request = SessionRequest.parse(user: user, device: query.get("device"), since: query.get("since"), epoch: query.get("epoch"))
            if case .success = request, edge.isShuttingDown {
                return .failure(HTTPError(.serviceUnavailable, message: "the edge is shutting down"))
            }
            return request
        case "/read" where edge.configuration.servesSeedRead:
            guard let user = query.get("user"), Identifier.isValid(user) else {
                return .failure(HTTPError(.badRequest, message: "user must be 1-64 characters of A-Z a-z 0-9 _ . -"))
            }
            return .success(SessionRequest(user: user, kind: .seed, since: nil, epoch: nil))
        default:
            return .failure(HTTPError(.notFound))
        }
    }

    /// Refuses (403) an upgrade whose `Origin` `--allowed-origins` does not allow.
    static func checkOrigin(_ request: Request, edge: EdgeContext) throws {
        guard originAllowed(origin: request.headers[.origin], host: request.head.authority, edge: edge) else {
            throw HTTPError(.forbidden, message: "origin not allowed")
        }
    }

    /// Whether `--allowed-origins` lets an upgrade with this `Origin` and `Host` header through.
    static func originAllowed(origin: String?, host: String?, edge: EdgeContext) -> Bool {
        edge.configuration.allowedOrigins.allows(origin: origin, host: host)
    }

    /// The user of the request's token (`Authorization: Bearer` or `?token=`), or nil.
    static func authenticate(_ request: Request, edge: EdgeContext) -> String? {
        token(query: request.uri.queryParameters.get("token"), authorization: request.headers[.authorization])
            .flatMap(edge.authority.user(for:))
    }

    /// The token of a request: the `Authorization: Bearer` header, else the `token` query parameter.
    private static func token(query: String?, authorization: String?) -> String? {
        if let authorization, authorization.hasPrefix("Bearer ") { return String(authorization.dropFirst("Bearer ".count)) }
        return query
    }
}
