import Foundation
import Hummingbird
import HummingbirdCore
import NIOHTTP1
import ParleyProtocol
import ParleyServiceKit

/// The edge's HTTP API: dev login, token check, the WebSocket endpoints, the web client.
enum EdgeRoutes {
    struct LoginRequest: Decodable { let user: String }
    struct LoginResponse: ResponseEncodable { let token: String; let user: String }
    struct WhoAmI: ResponseEncodable { let user: String }

    static func add(to router: Router<BasicRequestContext>, edge: EdgeContext, readiness: Readiness) {
        router.addOperationalRoutes(readiness: readiness)
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
            guard authenticate(request, edge: edge) != nil else { throw HTTPError(.unauthorized) }
            if edge.isShuttingDown { throw HTTPError(.serviceUnavailable, message: "the edge is shutting down") }
            throw HTTPError(.upgradeRequired, message: "expected a WebSocket upgrade")
        }
        if edge.configuration.devLogin {
            // The seed tutorial's endpoint: no token, the user named in the query, raw text frames.
            router.get("/read") { request, _ -> Response in
                guard let user = request.uri.queryParameters.get("user"), Identifier.isValid(user) else {
                    throw HTTPError(.badRequest, message: "user must be 1-64 characters of A-Z a-z 0-9 _ . -")
                }
                throw HTTPError(.upgradeRequired, message: "expected a WebSocket upgrade")
            }
        }
    }

    /// Who a WebSocket upgrade request is for, or nil if it may not upgrade: a valid token on
    /// `/ws` while the edge accepts sessions, a valid `user` on `/read` (dev login only; a seed
    /// session, `raw`).
    static func webSocketUser(_ head: HTTPRequestHead, edge: EdgeContext) -> (user: String, raw: Bool)? {
        let uri = URI(head.uri)
        switch uri.path {
        case "/ws":
            guard !edge.isShuttingDown,
                  let token = token(query: uri.queryParameters.get("token"), authorization: head.headers.first(name: "authorization"))
            else { return nil }
            return edge.authority.user(for: token).map { ($0, false) }
        case "/read":
            guard edge.configuration.devLogin, let user = uri.queryParameters.get("user"), Identifier.isValid(user) else { return nil }
            return (user, true)
        default:
            return nil
        }
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
