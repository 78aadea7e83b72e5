import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
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
            guard let user = await authenticate(request, edge: edge) else { throw HTTPError(.unauthorized) }
            return WhoAmI(user: user)
        }
        // Upgrades are taken before routing (``EdgeChildChannel``); what reaches these routes was
        // not admitted, or is no upgrade at all.
        router.get("/ws") { request, _ -> Response in
            try checkOrigin(request, edge: edge)
            _ = try sessionRequest(request.uri, user: await authenticate(request, edge: edge), edge: edge).get()
            throw HTTPError(.upgradeRequired, message: "expected a WebSocket upgrade")
        }
        if edge.configuration.servesSeedRead {
            // The seed tutorial's endpoint: no token, the user named in the query, raw text frames.
            router.get("/read") { request, _ -> Response in
                try checkOrigin(request, edge: edge)
                _ = try sessionRequest(request.uri, user: nil, edge: edge).get()
                throw HTTPError(.upgradeRequired, message: "expected a WebSocket upgrade")
            }
        }
    }

    /// The session a WebSocket upgrade request may open, or nil (the router then answers it as a
    /// plain request). Decided on the spot unless the token names a `kid` the edge lacks; then
    /// after fetching the identity provider's keys again. An `Origin` that `--allowed-origins`
    /// does not allow opens nothing.
    static func admission(_ head: HTTPRequestHead, edge: EdgeContext, on loop: any EventLoop) -> EventLoopFuture<SessionRequest?> {
        guard originAllowed(origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host"), edge: edge) else {
            return loop.makeSucceededFuture(nil)
        }
        let uri = URI(head.uri)
        let credentials = RequestToken(authorization: head.headers.first(name: "authorization"),
                                       protocols: head.headers["sec-websocket-protocol"], query: uri.queryParameters.get("token"))
        let request: @Sendable (String?) -> SessionRequest? = { user in
            guard var request = try? sessionRequest(uri, user: user, edge: edge).get() else { return nil }
            request.subprotocol = credentials.subprotocol
            return request
        }
        guard uri.path == "/ws", let token = credentials.token else { return loop.makeSucceededFuture(request(nil)) }
        switch edge.authority.check(token) {
        case .user(let user):
            return loop.makeSucceededFuture(request(user))
        case .refused:
            return loop.makeSucceededFuture(nil)
        case .unknownKey:
            return loop.makeFutureWithTask { request(await edge.authority.user(for: token)) }
        }
    }

    /// What a WebSocket upgrade request may open, or why it may not (the answer to it): on
    /// `/ws`, a valid token, whose user is `user` (401 when nil), valid `device`, `since` and
    /// `epoch` (400), while the edge accepts sessions (503); on `/read` (dev login on a loopback
    /// listener only), a valid `user` query parameter (400), a seed session.
    static func sessionRequest(_ uri: URI, user: String?, edge: EdgeContext) -> Result<SessionRequest, HTTPError> {
        let query = uri.queryParameters
        switch uri.path {
        case "/ws":
            guard let user else { return .failure(HTTPError(.unauthorized)) }
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

    /// The user of the request's token (see ``RequestToken``), or nil.
    static func authenticate(_ request: Request, edge: EdgeContext) async -> String? {
        let credentials = RequestToken(authorization: request.headers[.authorization], protocols: request.headers[values: .secWebSocketProtocol],
                                       query: request.uri.queryParameters.get("token"))
        guard let token = credentials.token else { return nil }
        return await edge.authority.user(for: token)
    }
}
