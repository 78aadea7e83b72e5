import Edge
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import ParleyProtocol
import ParleyTestSupport
import Synchronization
import Testing

/// What the edge accepts as a client token, on a real edge and broker: an identity provider's
/// JWKS served by a local HTTP server (rotation, bounded refreshes), the subprotocol upgrade of
/// browsers, and retries of one client id.
@Suite("ws-edge tokens and retries")
struct EdgeAuthTests {
    /// A JWKS endpoint on 127.0.0.1 whose keys the test swaps, counting the fetches.
    final class KeyServer: Sendable {
        let jwks = Mutex("{\"keys\":[]}")
        let fetches = Atomic(0)

        func serve(_ keys: [(kid: String, key: ES256PrivateKey)]) {
            let entries = keys.map { kid, key in
                let (x, y) = key.publicKey.parameters!
                return #"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(kid)","x":"\#(x)","y":"\#(y)"}"#
            }
            jwks.withLock { $0 = #"{"keys":[\#(entries.joined(separator: ","))]}"# }
        }

        /// Runs `body` with the server listening; `body` gets the JWKS URL.
        func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
            let router = Router()
            router.get("/jwks") { [self] _, _ -> Response in
                fetches.add(1, ordering: .sequentiallyConsistent)
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: jwks.withLock { $0 })))
            }
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            try await app.test(.live) { client in
                try await body("http://127.0.0.1:\(try #require(client.port))/jwks")
            }
        }
    }

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func sign(_ user: String, kid: String, key: ES256PrivateKey, iss: String? = "https://idp.test", aud: String? = "parley") async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        let now = Date()
        return try await keys.sign(Claims(sub: .init(value: user), exp: .init(value: now + 600), iat: .init(value: now),
                                          iss: iss.map(IssuerClaim.init(value:)), aud: aud.map { AudienceClaim(value: [$0]) }),
                                   kid: JWKIdentifier(string: kid))
    }

    static func whoami(_ port: Int, _ token: String) async throws -> HTTPResponse.Status {
        try await httpRequest(port: port, .get, "/api/whoami", headers: [.authorization: "Bearer \(token)"]).status
    }

    @Test("JWKS keys: a token of a new kid fetches the keys again (old kid → new kid); unknown kids fetch at most once per interval")
    func jwksRotation() async throws {
        let server = KeyServer()
        let old = ES256PrivateKey(), new = ES256PrivateKey()
        server.serve([("old", old)])
        try await server.run { url in
            let prefix = TestEnvironment.uniquePrefix("edge-jwks")
            let extra = ["--jwks-url", url, "--jwks-min-refresh-interval", "1h", "--jwks-refresh-interval", "1h",
                         "--jwt-issuer", "https://idp.test", "--jwt-audience", "parley"]
            try await withOwnEdge("edge-jwks", prefix: prefix, extra: extra) { edge, _ in
                let user = uniqueID("jwks-user")
                #expect(server.fetches.load(ordering: .sequentiallyConsistent) == 1, "fetched once at start")
                #expect(try await Self.whoami(edge.port, try await Self.sign(user, kid: "old", key: old)) == .ok)
                #expect(try await Self.whoami(edge.port, try await Self.sign(user, kid: "old", key: old, iss: "https://other.test")) == .unauthorized)
                #expect(try await Self.whoami(edge.port, try await Self.sign(user, kid: "old", key: old, aud: "another-app")) == .unauthorized)

                // The provider rotates: the old key is gone, the new one signs.
                server.serve([("new", new)])
                let rotated = try await Self.sign(user, kid: "new", key: new)
                let upgrade = try await RawWebSocket.upgrade(port: edge.port, path: "/ws",
                                                             headers: [("Sec-WebSocket-Protocol", "parley.v2, parley.token.\(rotated)")])
                try await waitUntil("the upgrade with the new kid is answered") { upgrade.status != nil }
                #expect(upgrade.status == 101, "a token of the new kid opens a session after one fetch")
                await upgrade.close()
                #expect(server.fetches.load(ordering: .sequentiallyConsistent) == 2)
                #expect(try await Self.whoami(edge.port, try await Self.sign(user, kid: "old", key: old)) == .unauthorized, "the old key was dropped")

                // Made-up kids within the minimum interval: refused without fetching again.
                for index in 0..<5 {
                    #expect(try await Self.whoami(edge.port, try await Self.sign(user, kid: "made-up-\(index)", key: new)) == .unauthorized)
                }
                #expect(server.fetches.load(ordering: .sequentiallyConsistent) == 2)
                #expect(try await Self.whoami(edge.port, rotated) == .ok)
            }
        }
    }

    @Test("a browser's subprotocol upgrade: parley.v2 is answered, the token is read from parley.token.<jwt> and never echoed")
    func subprotocolUpgrade() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-subprotocol")
        try await withOwnEdge("edge-subprotocol", prefix: prefix, extra: []) { edge, _ in
            let token = try await signToken(user: uniqueID("sub"))
            let accepted = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?device=d1",
                                                          headers: [("Sec-WebSocket-Protocol", "parley.v2, parley.token.\(token)")])
            try await waitUntil("the welcome frame") { accepted.frames.contains { $0.opcode == 0x1 } }
            let response = String(decoding: accepted.received, as: UTF8.self)
            #expect(accepted.status == 101)
            #expect(response.lowercased().contains("sec-websocket-protocol: parley.v2\r\n"))
            #expect(!response.contains(token), "the token is not echoed")
            await accepted.close()

            let forged = try await signToken(user: "mallory", secret: "another-secret-of-enough-bytes-0123456789")
            let refused = try await RawWebSocket.upgrade(port: edge.port, path: "/ws",
                                                         headers: [("Sec-WebSocket-Protocol", "parley.v2, parley.token.\(forged)")])
            try await waitUntil("the refusal") { refused.status != nil }
            #expect(refused.status == 401)
            await refused.close()
            #expect(try await httpRequest(port: edge.port, .get, "/api/whoami", headers: [.authorization: "Bearer \(token)"]).status == .ok)
            #expect(try await httpRequest(port: edge.port, .get, "/api/whoami", headers: [.authorization: "Bearer \(forged)"]).status == .unauthorized)
        }
    }

    @Test("a dev-login token stops being valid when the edge restarts with dev login off (same JWT secret)")
    func devTokenAfterDevLogin() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-devoff")
        let user = uniqueID("dev")
        let token = try await withOwnEdge("edge-dev-on", prefix: prefix, extra: ["--dev-login", "true"]) { edge, _ in
            let response = try await httpRequest(port: edge.port, .post, "/api/login", headers: [.contentType: "application/json"],
                                                 body: #"{"user":"\#(user)"}"#)
            struct Token: Decodable { let token: String }
            let token = try JSONDecoder().decode(Token.self, from: Data(response.body.utf8)).token
            #expect(try await Self.whoami(edge.port, token) == .ok)
            return token
        }
        try await withOwnEdge("edge-dev-off", prefix: prefix, extra: []) { edge, _ async throws -> Void in
            #expect(try await Self.whoami(edge.port, token) == .unauthorized)
            #expect(try await upgradeStatus(port: edge.port, path: "/ws?token=\(token)") == .unauthorized)
        }
    }

    @Test("a retry of a client id is answered with the same sent and produced once: in flight, after sent, after reconnecting")
    func retriesProduceOnce() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-retry")
        let topics = Topics(prefix: prefix)
        try await withOwnEdge("edge-retry", prefix: prefix, extra: []) { edge, edgeID in
            let alice = uniqueID("alice"), bob = uniqueID("bob")
            let inbound = try await TopicReader.start(topics.inbound, partitions: 2)
            let send = #"{"type":"send","id":"c1","to":"\#(bob)","body":"once"}"#
            let (first, _) = try await connect(alice, port: edge.port, edgeID: edgeID)
            first.send(send)
            first.send(send)  // most likely while the first produce is in flight
            let answers = [try await first.next(), try await first.next()]
            #expect(answers.allSatisfy { $0.type == "sent" && $0.id == "c1" })
            let msg = try #require(answers[0].msg)
            #expect(answers[1].msg == msg)
            await first.disconnect()

            // A reconnect, likely on another event loop of the edge.
            let (second, _) = try await connect(alice, port: edge.port, edgeID: edgeID)
            second.send(send)
            let again = try await second.next()
            #expect(again.type == "sent" && again.msg == msg)
            // A later send to the same conversation (same partition) shows the earlier ones are all in.
            second.send(#"{"type":"send","id":"c2","to":"\#(bob)","body":"marker"}"#)
            let marker = try #require(try await second.next().msg)
            let produced = try await inbound.waitFor(InboundEnvelope.self, "the marker") { records -> [String]? in
                let mine = records.compactMap(\.value.message).filter { $0.from == alice }
                return mine.contains { $0.msg == marker } ? mine.map(\.msg) : nil
            }
            #expect(produced == [msg, marker], "c1 was produced once")
            await second.disconnect()
            await inbound.stop()
        }
    }
}
