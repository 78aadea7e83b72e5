import Foundation
import JWTKit
import ParleyProtocol

/// Issues (dev login) and verifies client tokens: HS256 JWTs with `sub` = user id and `exp`.
public struct TokenAuthority: Sendable {
    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            guard UserID.isValid(sub.value) else { throw JWTError.claimVerificationFailure(failedClaim: sub, reason: "invalid user id") }
        }
    }

    private let keys: JWTKeyCollection
    private let ttl: Duration

    public init(secret: String, ttl: Duration) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.ttl = ttl
    }

    /// A token for `user`, valid for the configured lifetime.
    public func issue(user: String) async throws -> String {
        let expiry = Date().addingTimeInterval(Double(ttl.components.seconds))
        return try await keys.sign(Claims(sub: .init(value: user), exp: .init(value: expiry)))
    }

    /// The user id of a valid token, or nil (bad signature, expired, malformed, bad `sub`).
    public func user(for token: String) async -> String? {
        guard !token.isEmpty, token.utf8.count < 4096 else { return nil }
        return try? await keys.verify(token, as: Claims.self).sub.value
    }
}
