import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import NIOHTTP1
import ParleyProtocol
import ParleyServiceKit

/// The edge's HTTP API: dev login, token check, the WebSocket endpoints, the web client.
enum EdgeRoutes {
    struct LoginRequest: Decodable { let user: String }
    struct LoginResponse: ResponseEncodable { let token: String; let user: String }
    struct WhoAmI: ResponseEncodable { let user: String }

    static func add(to router: Router<BasicWebSocketRequestContext>, edge: EdgeContext, readiness: Readiness) {
        router.addOperationalRoutes(readiness: readiness)
        if edge.configuration.devLogin {
            router.post("/api/login") { request, context -> LoginResponse in
                let body = try await request.body.collect(upTo: 4096)
                guard let login = try? JSONDecoder().decode(LoginRequest.self, from: Data(buffer: body)) else {
                    throw HTTPError(.badRequest, message: "expected {\"user\":\"<id>\"}")
                }
                guard UserID.isValid(login.user) else {
                    throw HTTPError(.badRequest, message: "user must be 1-64 characters of A-Z a-z 0-9 _ . -")
                }
                return LoginResponse(token: try await edge.authority.issue(user: login.user), user: login.user)
            }
        }
        router.get("/api/whoami") { request, _ -> WhoAmI in
            guard let user = authenticate(request, edge: edge) else { throw HTTPError(.unauthorized) }
            return WhoAmI(user: user)
        }
        router.ws("/ws") { request, _ in
            guard authenticate(request, edge: edge) != nil else { throw HTTPError(.unauthorized) }
            return edge.isShuttingDown ? .dontUpgrade : .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard let user = authenticate(context.request, edge: edge) else { return }
            await SessionHandler(edge: edge).run(user: user, raw: false, inbound: inbound, outbound: outbound, logger: context.logger)
        }
        if edge.configuration.devLogin {
            // The seed tutorial's endpoint: no token, the user named in the query, raw text frames.
            router.ws("/read") { request, _ in
                guard let user = request.uri.queryParameters.get("user"), UserID.isValid(user) else {
                    throw HTTPError(.badRequest, message: "user must be 1-64 characters of A-Z a-z 0-9 _ . -")
                }
                return .upgrade([:])
            } onUpgrade: { inbound, outbound, context in
                guard let user = context.request.uri.queryParameters.get("user"), UserID.isValid(user) else { return }
                await SessionHandler(edge: edge).run(user: user, raw: true, inbound: inbound, outbound: outbound, logger: context.logger)
            }
        }
    }

    /// Whether an upgrade request may become a WebSocket: a valid token on `/ws`, a valid
    /// `user` on `/read` (dev login only). Runs in the channel pipeline (``UpgradeGate``).
    static func admitsUpgrade(_ head: HTTPRequestHead, edge: EdgeContext) -> Bool {
        let uri = URI(head.uri)
        switch uri.path {
        case "/ws":
            var token = uri.queryParameters.get("token")
            if let header = head.headers.first(name: "authorization"), header.hasPrefix("Bearer ") {
                token = String(header.dropFirst("Bearer ".count))
            }
            return token.flatMap(edge.authority.user(for:)) != nil
        case "/read":
            return edge.configuration.devLogin && uri.queryParameters.get("user").map(UserID.isValid) == true
        default:
            return true
        }
    }

    /// The user of the request's token (`Authorization: Bearer` or `?token=`), or nil.
    static func authenticate(_ request: Request, edge: EdgeContext) -> String? {
        var token = request.uri.queryParameters.get("token")
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            token = String(header.dropFirst("Bearer ".count))
        }
        guard let token else { return nil }
        return edge.authority.user(for: token)
    }
}
