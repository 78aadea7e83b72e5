import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JWTKit
import Logging
import ServiceLifecycle
import Synchronization

/// The keys of an identity provider's JWKS: fetched at start, every refresh interval
/// (``JWKSRefresher``), and when a token names a `kid` they lack, at most once per minimum
/// interval (so tokens with made-up `kid`s cannot make the edge hammer the provider). A failed
/// fetch keeps the keys it had.
final class JWKSKeys: Sendable {
    private struct State {
        var keys: [VerificationKey] = []
        var loaded = false
        /// When a token's unknown `kid` last caused a fetch.
        var lastOnDemand: ContinuousClock.Instant?
        var fetching: Task<Void, Never>?
    }

    /// A JWKS larger than this is refused (providers publish a few keys, a few KB).
    static let maxBytes = 1 << 20

    let url: URL
    let refreshInterval: Duration
    let minInterval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(url: URL, refreshInterval: Duration, minInterval: Duration, logger: Logger) {
        self.url = url
        self.refreshInterval = refreshInterval
        self.minInterval = minInterval
        self.logger = logger
    }

    /// The keys of the last successful fetch.
    var keys: [VerificationKey] { state.withLock { $0.keys } }

    /// Whether a fetch has succeeded yet.
    var isLoaded: Bool { state.withLock { $0.loaded } }

    /// Fetches the JWKS, or waits for the fetch in flight. `force` is false for a fetch because
    /// of an unknown `kid`: then nothing is fetched within the minimum interval of the last such fetch.
    func refresh(force: Bool) async {
        let fetch: Task<Void, Never>? = state.withLock { state in
            if let fetching = state.fetching { return fetching }
            if !force {
                if let last = state.lastOnDemand, last.duration(to: .now) < minInterval { return nil }
                state.lastOnDemand = .now
            }
            let task = Task {
                await self.fetch()
                self.state.withLock { $0.fetching = nil }
            }
            state.fetching = task
            return task
        }
        await fetch?.value
    }

    private func fetch() async {
        do {
            let keys = try await Self.keys(of: try await download())
            state.withLock {
                $0.keys = keys
                $0.loaded = true
            }
            logger.info("identity provider keys loaded",
                        metadata: ["parley.jwks.url": "\(url)", "parley.jwks.kids": "\(keys.compactMap(\.kid).joined(separator: ","))"])
        } catch {
            logger.warning("identity provider keys not loaded", metadata: ["parley.jwks.url": "\(url)", "parley.error": "\(error)"])
        }
    }

    private func download() async throws -> JWKS {
        let request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 5)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw EdgeError(.jwksUnavailable, "the JWKS URL answered HTTP \(status)") }
        guard data.count <= Self.maxBytes else { throw EdgeError(.jwksUnavailable, "the JWKS is larger than \(Self.maxBytes) bytes") }
        do {
            return try JSONDecoder().decode(JWKS.self, from: data)
        } catch {
            throw EdgeError(.jwksUnavailable, "the JWKS is malformed", underlying: error)
        }
    }

    /// The usable keys of `jwks`: those with a `kid` and an accepted algorithm (the key type's
    /// usual one when the key names none); others are left out.
    static func keys(of jwks: JWKS) async throws -> [VerificationKey] {
        var keys: [VerificationKey] = []
        for jwk in jwks.keys {
            guard let kid = jwk.keyIdentifier else { continue }
            let alg = jwk.algorithm?.rawValue ?? usualAlgorithm[jwk.keyType.rawValue]
            guard let alg, VerificationKey.acceptedAlgorithms.contains(alg),
                  let key = try? await VerificationKey.make(kid: kid.string, alg: alg, { try await $0.add(jwk: jwk) }),
                  key.algorithm.name == alg
            else { continue }
            keys.append(key)
        }
        return keys
    }

    private static let usualAlgorithm = ["RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"]
}

/// Fetches the JWKS again every refresh interval until the edge shuts down; every minimum
/// interval while no fetch has succeeded yet.
struct JWKSRefresher: Service {
    let keys: JWKSKeys

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let interval = keys.isLoaded ? keys.refreshInterval : keys.minInterval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            await keys.refresh(force: true)
        }
    }
}
