import Crypto
import Foundation
import JWTKit
import ParleyProtocol

/// Issues (dev login) and verifies client tokens: HS256 JWTs with `sub` = user id and `exp`.
///
/// Verification is synchronous (jwt-kit parses, swift-crypto checks the HMAC) because it also
/// runs inside the channel pipeline, before the WebSocket upgrade, to answer 401 there.
public struct TokenAuthority: Sendable {
    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    private let keys: JWTKeyCollection
    private let key: SymmetricKey
    private let ttl: Duration

    public init(secret: String, ttl: Duration) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        key = SymmetricKey(data: Array(secret.utf8))
        self.ttl = ttl
    }

    /// A token for `user`, valid for the configured lifetime.
    public func issue(user: String) async throws -> String {
        let expiry = Date().addingTimeInterval(Double(ttl.components.seconds))
        return try await keys.sign(Claims(sub: .init(value: user), exp: .init(value: expiry)))
    }

    /// The user id of a valid token, or nil: wrong algorithm, bad signature, expired, malformed,
    /// or a `sub` that is not a valid user id.
    public func user(for token: String) -> String? {
        guard !token.isEmpty, token.utf8.count < 4096 else { return nil }
        let parser = DefaultJWTParser()
        guard let (header, claims, signature) = try? parser.parse(Array(token.utf8), as: Claims.self),
              header.alg == "HS256",
              let parts = try? parser.getTokenParts(Array(token.utf8))
        else { return nil }
        let signed = Array(parts.header) + [UInt8(ascii: ".")] + Array(parts.payload)
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: key),
              claims.exp.value > Date(),
              Identifier.isValid(claims.sub.value)
        else { return nil }
        return claims.sub.value
    }
}
