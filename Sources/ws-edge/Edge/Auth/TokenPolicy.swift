import Foundation
import JWTKit
import ParleyProtocol

/// The claims of a client token the edge reads; only `sub` and `exp` are required.
struct TokenClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var iat: IssuedAtClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?

    /// Unused: the edge checks claims synchronously with ``TokenPolicy``.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// What a client token's claims must satisfy, besides its signature: a valid user id in `sub`;
/// `exp` in the future, `nbf` and `iat` not in the future (each within `leeway`); a lifetime
/// (`exp` after `iat`, or after now without `iat`) of at most `maxLifetime`; and `iss` and
/// `aud` when they are configured.
public struct TokenPolicy: Sendable, Equatable {
    public var issuer: String?
    public var audience: String?
    public var leeway: Duration
    public var maxLifetime: Duration

    /// Why `claims` are refused at `now`, or nil when they are accepted.
    func refusal(of claims: TokenClaims, now: Date) -> String? {
        let leeway = Double(leeway.components.seconds)
        let exp = claims.exp.value
        guard Identifier.isValid(claims.sub.value) else { return "sub is not a user id" }
        guard now.addingTimeInterval(-leeway) < exp else { return "expired" }
        if let nbf = claims.nbf?.value, nbf > now.addingTimeInterval(leeway) { return "not valid yet (nbf)" }
        if let iat = claims.iat?.value, iat > now.addingTimeInterval(leeway) { return "issued in the future (iat)" }
        let start = min(claims.iat?.value ?? now, now)
        guard exp.timeIntervalSince(start) <= Double(maxLifetime.components.seconds) + leeway else { return "lifetime too long" }
        if let issuer, claims.iss?.value != issuer { return "wrong issuer" }
        if let audience, !(claims.aud?.value.contains(audience) ?? false) { return "wrong audience" }
        return nil
    }
}
