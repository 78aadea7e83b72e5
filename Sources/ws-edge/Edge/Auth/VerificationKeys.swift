import JWTKit

/// A key client tokens are verified with: jwt-kit's algorithm for it and the `kid` it answers
/// to (nil: only tokens without a `kid`).
struct VerificationKey: Sendable {
    /// The algorithms the edge accepts; anything else (`none`, HS512, PS256, …) is refused.
    static let acceptedAlgorithms: Set<String> = ["HS256", "RS256", "ES256", "EdDSA"]

    let kid: String?
    let algorithm: any JWTAlgorithm

    /// The key that `add` puts into an empty key collection, under `kid`, for algorithm `alg`.
    static func make(kid: String?, alg: String, _ add: (JWTKeyCollection) async throws -> Void) async throws -> VerificationKey {
        let keys = JWTKeyCollection()
        try await add(keys)
        return VerificationKey(kid: kid, algorithm: try await keys.getKey(alg: alg))
    }

    /// The keys that may have signed a token with header `kid` and `alg`, or nil when the token
    /// names a `kid` none of `keys` has. A token without `kid` may be signed by any key of its `alg`.
    static func candidates(in keys: [VerificationKey], kid: String?, alg: String) -> [any JWTAlgorithm]? {
        guard let kid else { return keys.filter { $0.algorithm.name == alg }.map(\.algorithm) }
        let named = keys.filter { $0.kid == kid }
        return named.isEmpty ? nil : named.filter { $0.algorithm.name == alg }.map(\.algorithm)
    }
}
