import Foundation
import JWTKit
import Logging
import ServiceLifecycle

/// Verifies client tokens, and issues dev-login tokens.
///
/// A token is a JWT signed with HS256 (the shared secret), RS256, ES256 or EdDSA (PEM files, an
/// identity provider's JWKS); its claims must satisfy the ``TokenPolicy``. Dev-login tokens are
/// signed with a key of their own (`kid` ``devKeyID``) that exists only while dev login is on,
/// so they stop being valid when it is turned off.
///
/// Checking is synchronous (jwt-kit parses and checks the signature) because it also runs inside
/// the channel pipeline, before the WebSocket upgrade; only a token naming a `kid` the JWKS lacks
/// needs ``user(for:)``, which fetches the JWKS again first.
public final class TokenAuthority: Sendable {
    /// What a token check found.
    enum Verdict: Sendable, Equatable {
        case user(String)
        /// Malformed, wrongly signed, or its claims refused (the reason is for debug logs only).
        case refused(String)
        /// It names a `kid` that no key has; a JWKS fetch may bring it.
        case unknownKey
    }

    /// The `kid` of dev-login tokens.
    static let devKeyID = "parley-dev"
    /// Longer tokens are refused before parsing.
    static let maxTokenBytes = 8192

    private let staticKeys: [VerificationKey]
    private let jwks: JWKSKeys?
    private let policy: TokenPolicy
    private let devSigner: JWTKeyCollection?
    private let devTokenTTL: Duration
    private let logger: Logger

    /// Loads the keys of `configuration` and fetches its JWKS once (a failed fetch is logged and
    /// retried by ``refresher``).
    public init(_ configuration: AuthConfiguration, logger: Logger) async throws {
        var keys: [VerificationKey] = []
        if let secret = configuration.secret {
            keys.append(try await .make(kid: nil, alg: "HS256") { await $0.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256) })
        }
        for key in configuration.publicKeys {
            switch key.material {
            case .rsa(let rsa):
                keys.append(try await .make(kid: key.kid, alg: "RS256") { await $0.add(rsa: rsa, digestAlgorithm: .sha256) })
            case .ecdsa(let ecdsa):
                keys.append(try await .make(kid: key.kid, alg: "ES256") { await $0.add(ecdsa: ecdsa) })
            case .eddsa(let eddsa):
                keys.append(try await .make(kid: key.kid, alg: "EdDSA") { await $0.add(eddsa: eddsa) })
            }
        }
        if let devSecret = configuration.devSecret {
            let signer = JWTKeyCollection()
            await signer.add(hmac: HMACKey(from: devSecret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: Self.devKeyID))
            keys.append(VerificationKey(kid: Self.devKeyID, algorithm: try await signer.getKey(alg: "HS256")))
            devSigner = signer
        } else {
            devSigner = nil
        }
        staticKeys = keys
        policy = configuration.policy
        devTokenTTL = configuration.devTokenTTL
        self.logger = logger
        jwks = configuration.jwksURL.map {
            JWKSKeys(url: $0, refreshInterval: configuration.jwksRefreshInterval, minInterval: configuration.jwksMinRefreshInterval,
                     logger: logger)
        }
        await jwks?.refresh(force: true)
    }

    /// Whether the identity provider's keys are loaded (true without a JWKS URL).
    var isReady: Bool { jwks?.isLoaded ?? true }

    /// The service that fetches the JWKS periodically, if there is one.
    var refresher: (any Service)? { jwks.map(JWKSRefresher.init(keys:)) }

    /// A dev-login token for `user`, valid for the configured lifetime.
    public func issue(user: String) async throws -> String {
        guard let devSigner else { throw EdgeError(.devLoginOff, "dev login is off") }
        let now = Date()
        let claims = TokenClaims(sub: .init(value: user), exp: .init(value: now.addingTimeInterval(Double(devTokenTTL.components.seconds))),
                                 iat: .init(value: now), iss: policy.issuer.map(IssuerClaim.init(value:)),
                                 aud: policy.audience.map { AudienceClaim(value: [$0]) })
        return try await devSigner.sign(claims, kid: JWKIdentifier(string: Self.devKeyID))
    }

    /// The user id of a valid token, or nil; fetches the JWKS again (within its bound) when the
    /// token names a `kid` no key has.
    public func user(for token: String) async -> String? {
        var verdict = check(token)
        if verdict == .unknownKey, let jwks {
            await jwks.refresh(force: false)
            verdict = check(token)
        }
        guard case .user(let user) = verdict else { return nil }
        return user
    }

    /// Checks `token` with the keys at hand.
    func check(_ token: String) -> Verdict {
        let verdict = verify(token)
        if case .refused(let reason) = verdict {
            logger.debug("token refused", metadata: ["parley.reason": "\(reason)"])
        }
        return verdict
    }

    private func verify(_ token: String) -> Verdict {
        guard !token.isEmpty, token.utf8.count <= Self.maxTokenBytes else { return .refused("empty or too long") }
        let bytes = Array(token.utf8)
        let parser = DefaultJWTParser()
        guard let (header, claims, signature) = try? parser.parse(bytes, as: TokenClaims.self),
              let parts = try? parser.getTokenParts(bytes)
        else { return .refused("malformed") }
        guard let alg = header.alg, VerificationKey.acceptedAlgorithms.contains(alg) else { return .refused("algorithm not accepted") }
        guard let candidates = VerificationKey.candidates(in: staticKeys + (jwks?.keys ?? []), kid: header.kid, alg: alg) else {
            return jwks == nil ? .refused("unknown kid") : .unknownKey
        }
        let signed = Array(parts.header) + [UInt8(ascii: ".")] + Array(parts.payload)
        guard candidates.contains(where: { (try? $0.verify(signature, signs: signed)) == true }) else { return .refused("bad signature") }
        if let reason = policy.refusal(of: claims, now: Date()) { return .refused(reason) }
        return .user(claims.sub.value)
    }
}
