@testable import Edge
import Foundation
import JWTKit
import Logging
import ParleyServiceKit
import Testing

/// Client tokens without a network: claim rules, algorithms, key files, dev-login keys and where a
/// request carries its token.
@Suite("Tokens")
struct TokenAuthorityTests {
    static let secret = "unit-test-secret-0123456789-abcdefghij"

    static func configuration(_ arguments: [String], environment: [String: String] = [:]) throws -> EdgeConfiguration {
        guard case .run(let configuration) = try EdgeConfiguration.load(arguments: arguments, environment: environment) else {
            throw ConfigurationError("expected a configuration")
        }
        return configuration
    }

    static func authority(_ arguments: [String]) async throws -> TokenAuthority {
        try await TokenAuthority(try configuration(arguments).auth, logger: Logger(label: "test"))
    }

    /// Signs `claims` with `key` added to a fresh key collection (under `kid` when given).
    static func sign(_ claims: TokenClaims, kid: String? = nil, _ add: (JWTKeyCollection) async -> Void) async throws -> String {
        let keys = JWTKeyCollection()
        await add(keys)
        return try await keys.sign(claims, kid: kid.map(JWKIdentifier.init(string:)))
    }

    static func claims(sub: String = "alice", exp: TimeInterval = 600, nbf: TimeInterval? = nil, iat: TimeInterval? = 0,
                       iss: String? = nil, aud: [String]? = nil) -> TokenClaims {
        let now = Date()
        return TokenClaims(sub: .init(value: sub), exp: .init(value: now + exp), nbf: nbf.map { .init(value: now + $0) },
                           iat: iat.map { .init(value: now + $0) }, iss: iss.map(IssuerClaim.init(value:)), aud: aud.map(AudienceClaim.init(value:)))
    }

    @Test("nbf, iat, exp are checked with the leeway; the lifetime is bounded; iss and aud are required when configured")
    func policy() {
        let policy = TokenPolicy(issuer: "https://idp.example", audience: "parley", leeway: .seconds(30), maxLifetime: .seconds(3600))
        let good = { (exp: TimeInterval, nbf: TimeInterval?, iat: TimeInterval?) in
            Self.claims(exp: exp, nbf: nbf, iat: iat, iss: "https://idp.example", aud: ["other", "parley"])
        }
        let now = Date()
        #expect(policy.refusal(of: good(600, nil, 0), now: now) == nil)
        #expect(policy.refusal(of: good(600, 20, 20), now: now) == nil, "nbf and iat within the leeway")
        #expect(policy.refusal(of: good(-20, nil, -600), now: now) == nil, "exp just past, within the leeway")
        #expect(policy.refusal(of: good(-40, nil, -600), now: now) == "expired")
        #expect(policy.refusal(of: good(600, 40, nil), now: now) == "not valid yet (nbf)")
        #expect(policy.refusal(of: good(600, nil, 40), now: now) == "issued in the future (iat)")
        #expect(policy.refusal(of: good(3600, nil, 0), now: now) == nil, "exactly the maximum lifetime")
        #expect(policy.refusal(of: good(3700, nil, 0), now: now) == "lifetime too long")
        #expect(policy.refusal(of: good(3000, nil, -1000), now: now) == "lifetime too long", "exp - iat counts, not exp - now")
        #expect(policy.refusal(of: good(253_402_300_799 - now.timeIntervalSince1970, nil, nil), now: now) == "lifetime too long",
                "exp in year 9999 without iat")
        #expect(policy.refusal(of: Self.claims(iss: "https://evil.example", aud: ["parley"]), now: now) == "wrong issuer")
        #expect(policy.refusal(of: Self.claims(aud: ["parley"]), now: now) == "wrong issuer", "a missing iss")
        #expect(policy.refusal(of: Self.claims(iss: "https://idp.example", aud: ["other"]), now: now) == "wrong audience")
        #expect(policy.refusal(of: Self.claims(iss: "https://idp.example"), now: now) == "wrong audience", "a missing aud")
        #expect(policy.refusal(of: Self.claims(sub: "{alice}", iss: "https://idp.example", aud: ["parley"]), now: now) == "sub is not a user id")
        let open = TokenPolicy(issuer: nil, audience: nil, leeway: .seconds(30), maxLifetime: .seconds(3600))
        #expect(open.refusal(of: Self.claims(), now: now) == nil, "iss and aud are optional unless configured")
    }

    @Test("HS256 with the secret; alg none, HS512, a wrong key or an unknown kid are refused")
    func algorithms() async throws {
        let authority = try await Self.authority(["--jwt-secret", Self.secret])
        let hs256 = try await Self.sign(Self.claims()) { await $0.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256) }
        #expect(authority.check(hs256) == .user("alice"))
        // jwt-kit asserts HS512 keys of at least 64 bytes.
        let hs512 = try await Self.sign(Self.claims()) {
            await $0.add(hmac: HMACKey(from: Self.secret + Self.secret), digestAlgorithm: .sha512)
        }
        #expect(authority.check(hs512) == .refused("algorithm not accepted"))
        let wrongKey = try await Self.sign(Self.claims()) { await $0.add(hmac: HMACKey(from: Self.secret + "x"), digestAlgorithm: .sha256) }
        #expect(authority.check(wrongKey) == .refused("bad signature"))
        let none = try await Self.sign(Self.claims()) { await $0.addUnsecuredNone() }
        #expect(authority.check(none) == .refused("algorithm not accepted"))
        let namedKid = try await Self.sign(Self.claims(), kid: "k1") { await $0.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256) }
        #expect(authority.check(namedKid) == .refused("unknown kid"), "the secret answers only tokens without kid; no JWKS to ask")
        let ancient = try await Self.sign(Self.claims(exp: 253_402_300_799 - Date().timeIntervalSince1970, iat: nil)) {
            await $0.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        }
        #expect(authority.check(ancient) == .refused("lifetime too long"))
        #expect(await authority.user(for: hs256) == "alice")
    }

    @Test("RS256, ES256 and EdDSA public keys from PEM files, each named by its file")
    func pemFiles() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-pem-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let rsa = try Insecure.RSA.PrivateKey(pem: try Self.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]))
        let ecdsa = ES256PrivateKey()
        let eddsa = try EdDSA.PrivateKey()
        let files = [("rsa-2026", rsa.publicKey.pemRepresentation), ("ec-2026", ecdsa.publicKey.pemRepresentation),
                     ("ed-2026", eddsa.publicKey.pemRepresentation)].map { name, pem in
            let url = folder.appendingPathComponent("\(name).pem")
            try? pem.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let authority = try await Self.authority(["--jwt-public-keys", files.joined(separator: ",")])
        let rs256 = try await Self.sign(Self.claims(), kid: "rsa-2026") { await $0.add(rsa: rsa, digestAlgorithm: .sha256) }
        let es256 = try await Self.sign(Self.claims(), kid: "ec-2026") { await $0.add(ecdsa: ecdsa) }
        let edNoKid = try await Self.sign(Self.claims()) { await $0.add(eddsa: eddsa) }
        #expect(authority.check(rs256) == .user("alice"))
        #expect(authority.check(es256) == .user("alice"))
        #expect(authority.check(edNoKid) == .user("alice"), "a token without kid is tried with every key of its alg")
        let wrongFile = try await Self.sign(Self.claims(), kid: "ec-2026") { await $0.add(eddsa: eddsa) }
        #expect(authority.check(wrongFile) != .user("alice"), "an EdDSA token naming the ES256 key's kid")
        let other = ES256PrivateKey()
        let forged = try await Self.sign(Self.claims(), kid: "ec-2026") { await $0.add(ecdsa: other) }
        #expect(authority.check(forged) == .refused("bad signature"))
    }

    @Test("dev-login tokens are valid while dev login is on, refused by an edge with dev login off and the same secret")
    func devTokens() async throws {
        let on = try await Self.authority(["--jwt-secret", Self.secret, "--dev-login", "true"])
        let token = try await on.issue(user: "alice")
        #expect(on.check(token) == .user("alice"))
        let off = try await Self.authority(["--jwt-secret", Self.secret])
        #expect(off.check(token) == .refused("unknown kid"))
        await #expect(throws: EdgeError.self) { try await off.issue(user: "alice") }
        let restarted = try await Self.authority(["--jwt-secret", Self.secret, "--dev-login", "true"])
        #expect(restarted.check(token) == .refused("bad signature"), "a random dev key per process start")
        let shared = "shared-dev-login-secret-0123456789-abcdef"
        let first = try await Self.authority(["--dev-login", "true", "--dev-login-secret", shared])
        let second = try await Self.authority(["--dev-login", "true", "--dev-login-secret", shared])
        #expect(second.check(try await first.issue(user: "bob")) == .user("bob"), "edges sharing --dev-login-secret")
    }

    @Test("the secret comes from --jwt-secret-file; bad key settings stop the start with one line naming them")
    func settings() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("parley-secret-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: file) }
        try "\(Self.secret)\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try Self.configuration([], environment: ["PARLEY_JWT_SECRET_FILE": file.path]).auth.secret == Self.secret)
        let failures: [([String], String)] = [
            ([], "is required when dev login is off"),
            (["--jwt-secret", Self.secret, "--jwt-secret-file", file.path], "PARLEY_JWT_SECRET and PARLEY_JWT_SECRET_FILE are both set"),
            (["--jwt-secret-file", "/nonexistent/secret"], "invalid PARLEY_JWT_SECRET_FILE"),
            (["--jwt-secret", "short"], "invalid PARLEY_JWT_SECRET"),
            (["--jwt-public-keys", file.path], "invalid PARLEY_JWT_PUBLIC_KEYS"),
            (["--jwks-url", "ftp://idp.example/keys"], "invalid PARLEY_JWKS_URL"),
            (["--jwks-url", "https://idp.example/keys", "--jwks-min-refresh-interval", "0s"], "invalid PARLEY_JWKS_MIN_REFRESH_INTERVAL"),
            (["--dev-login", "true", "--dev-login-secret", "short"], "invalid PARLEY_DEV_LOGIN_SECRET"),
            (["--dev-login", "true", "--token-ttl", "2h", "--jwt-max-lifetime", "1h"], "invalid PARLEY_TOKEN_TTL"),
        ]
        for (arguments, message) in failures {
            #expect(throws: ConfigurationError.self, "\(arguments)") { try Self.configuration(arguments) }
            do {
                _ = try Self.configuration(arguments)
            } catch {
                #expect("\(error)".contains(message), "\(arguments): \(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
    }

    @Test("the token comes from the Authorization header, else the parley.token subprotocol, else the query")
    func requestToken() {
        let header = RequestToken(authorization: "Bearer h.h.h", protocols: ["parley.v2, parley.token.p.p.p"], query: "q.q.q")
        #expect(header.token == "h.h.h" && header.subprotocol == "parley.v2")
        let subprotocol = RequestToken(authorization: nil, protocols: ["parley.v2", "parley.token.p.p.p"], query: "q.q.q")
        #expect(subprotocol.token == "p.p.p" && subprotocol.subprotocol == "parley.v2")
        let query = RequestToken(authorization: "Basic abc", protocols: ["chat"], query: "q.q.q")
        #expect(query.token == "q.q.q" && query.subprotocol == nil)
        #expect(RequestToken(authorization: nil, protocols: ["parley.token.p.p.p"], query: nil).subprotocol == nil,
                "without parley.v2 the edge answers no subprotocol (never the token)")
    }

    /// A PEM private key made by the openssl command line tool.
    static func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
