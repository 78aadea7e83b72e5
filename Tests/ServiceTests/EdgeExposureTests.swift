import Edge
import Foundation
import ParleyServiceKit
import ParleyTestSupport
import Testing

/// What ws-edge's public port serves and refuses (docs/security.md, "Exposure"): no health,
/// readiness, metrics or server API there, no second spelling of a path, security headers on
/// every answer, the seed's `/read` only with dev login on a loopback listener, WebSocket
/// upgrades only from allowed origins. The admin port serves what the public one does not.
@Suite("ws-edge exposure")
struct EdgeExposureTests {
    static let web = TestEnvironment.projectRoot.appendingPathComponent("web").path

    @Test("the public port refuses /metrics, /healthz, /readyz, the server API and every encoded or dotted spelling; the admin port serves them")
    func publicPortServesNoOperationalRoutes() async throws {
        try await withOwnEdge("exposure", prefix: TestEnvironment.uniquePrefix("exposure"),
                              extra: ["--dev-login", "true", "--web-root", Self.web]) { (edge, _) async throws in
            // The web client is served, so the refusals below are not a missing file middleware.
            let index = try await RawHTTP.request(port: edge.port, "/")
            #expect(index.status == 200 && index.body.contains("<script"))
            #expect(try await RawHTTP.request(port: edge.port, "/index.html").status == 200)
            let probes: [(String, Int)] = [
                ("/metrics", 404), ("/healthz", 404), ("/readyz", 404), ("/api/v1/users/alice/presence", 404),
                ("/metrics/", 404), ("//metrics", 404), ("/index.html/", 404),
                ("/./metrics", 400), ("/../metrics", 400), ("/%6detrics", 400), ("/index.html%00.js", 400),
                ("/index%2ehtml", 400), ("/%2e%2e/Package.swift", 400), ("/ws%2f", 400),
            ]
            for (path, status) in probes {
                let answer = try await RawHTTP.request(port: edge.port, path)
                #expect(answer.status == status, "\(path): \(answer.status)")
                #expect(!answer.body.contains("parley_") && answer.headers["content-type"]?.contains("javascript") != true, "\(path) served something")
            }
            let metrics = try await RawHTTP.request(port: edge.adminPort, "/metrics")
            #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(try await RawHTTP.request(port: edge.adminPort, "/healthz").status == 200)
            #expect(try await RawHTTP.request(port: edge.adminPort, "/readyz").status == 200)
            // And the admin port serves nothing of the public side.
            #expect(try await RawHTTP.request(port: edge.adminPort, "/").status == 404)
            #expect(try await RawHTTP.request(port: edge.adminPort, "/api/whoami").status == 404)
        }
    }

    @Test("every answer of the public port carries CSP (WebSockets to its own host only), nosniff, no framing and no referrer")
    func securityHeaders() async throws {
        try await withOwnEdge("headers", prefix: TestEnvironment.uniquePrefix("headers"), extra: ["--web-root", Self.web]) { (edge, _) async throws in
            for (path, status) in [("/", 200), ("/app.js", 200), ("/api/whoami", 401), ("/missing.js", 404), ("/%6detrics", 400)] {
                let answer = try await RawHTTP.request(port: edge.port, path)
                #expect(answer.status == status, "\(path): \(answer.status)")
                let policy = answer.headers["content-security-policy"] ?? ""
                #expect(policy.contains("default-src 'self'"), "\(path): \(policy)")
                #expect(policy.contains("connect-src 'self' ws://127.0.0.1:\(edge.port) wss://127.0.0.1:\(edge.port);"), "\(path): \(policy)")
                #expect(policy.contains("frame-ancestors 'none'"), "\(path): \(policy)")
                #expect(answer.headers["x-content-type-options"] == "nosniff", "\(path)")
                #expect(answer.headers["x-frame-options"] == "DENY", "\(path)")
                #expect(answer.headers["referrer-policy"] == "no-referrer", "\(path)")
            }
        }
    }

    @Test("the seed's /read needs dev login and a loopback listener")
    func seedReadOnlyOnLoopback() async throws {
        let prefix = TestEnvironment.uniquePrefix("seedread")
        try await withOwnEdge("seed-loopback", prefix: prefix, extra: ["--dev-login", "true"]) { (edge, _) async throws in
            #expect(try await upgradeStatus(port: edge.port, path: "/read?user=alice") == .switchingProtocols)
        }
        // Listening on every address: dev login still works, /read does not exist.
        try await withOwnEdge("seed-any", prefix: prefix, extra: ["--dev-login", "true", "--http-host", "0.0.0.0"]) { (edge, _) async throws in
            #expect(try await httpRequest(port: edge.port, .post, "/api/login", body: #"{"user":"alice"}"#).status == .ok)
            #expect(try await upgradeStatus(port: edge.port, path: "/read?user=alice") == .notFound)
        }
        try await withOwnEdge("seed-off", prefix: prefix, extra: []) { (edge, _) async throws in
            #expect(try await upgradeStatus(port: edge.port, path: "/read?user=alice") == .notFound)
        }
    }

    @Test("a WebSocket upgrade from another site's page is refused (403); its own origin, no origin, or an allowed one is admitted")
    func originAllowList() async throws {
        let prefix = TestEnvironment.uniquePrefix("origin")
        let token = try await signToken(user: uniqueID("org"))
        func status(_ port: Int, origin: String?) async throws -> Int? {
            let socket = try await RawWebSocket.upgrade(port: port, path: "/ws?token=\(token)", headers: origin.map { [("Origin", $0)] } ?? [])
            defer { Task { await socket.close() } }
            return try await eventually("the upgrade's answer") { socket.status }
        }
        try await withOwnEdge("origin-same", prefix: prefix, extra: []) { (edge, _) async throws in
            #expect(try await status(edge.port, origin: "http://evil.example") == 403)
            #expect(try await status(edge.port, origin: "http://127.0.0.1:\(edge.port + 1)") == 403)
            #expect(try await status(edge.port, origin: "null") == 403)
            #expect(try await status(edge.port, origin: "http://127.0.0.1:\(edge.port)") == 101)
            #expect(try await status(edge.port, origin: nil) == 101)
        }
        try await withOwnEdge("origin-list", prefix: prefix, extra: ["--allowed-origins", "https://chat.example.com, http://localhost:5173"]) { (edge, _) async throws in
            #expect(try await status(edge.port, origin: "https://chat.example.com") == 101)
            #expect(try await status(edge.port, origin: "https://chat.example.com:443") == 101)
            #expect(try await status(edge.port, origin: "http://localhost:5173") == 101)
            #expect(try await status(edge.port, origin: "http://chat.example.com") == 403)
            #expect(try await status(edge.port, origin: "http://127.0.0.1:\(edge.port)") == 403)
        }
        try await withOwnEdge("origin-any", prefix: prefix, extra: ["--allowed-origins", "*"]) { (edge, _) async throws in
            #expect(try await status(edge.port, origin: "http://evil.example") == 101)
        }
    }

    @Test("bad exposure settings stop ws-edge at start with one line naming them")
    func badSettings() throws {
        for (arguments, variable) in [(["--allowed-origins", "chat.example.com"], "PARLEY_ALLOWED_ORIGINS"),
                                      (["--allowed-origins", "ftp://x"], "PARLEY_ALLOWED_ORIGINS"),
                                      (["--api-key-file", "/nonexistent/key"], "PARLEY_API_KEY_FILE"),
                                      (["--admin-port", "70000"], "--admin-port")] {
            let error = #expect(throws: ConfigurationError.self) {
                _ = try EdgeConfiguration.load(arguments: ["--dev-login", "true"] + arguments, environment: [:])
            }
            #expect(error?.message.contains(variable) == true && error?.message.contains("\n") == false, "\(error?.message ?? "")")
        }
    }
}
