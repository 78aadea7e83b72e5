import Synchronization

/// What `/readyz` reports: ready only when every registered check passes (Kafka consumers
/// assigned, Redis answering, ...). Checks are added while the application is built.
public final class Readiness: Sendable {
    public typealias Check = @Sendable () async -> Bool

    private let checks = Mutex<[(name: String, check: Check)]>([])

    public init() {}

    /// Adds a named check; `/readyz` lists the failing ones by name.
    public func add(_ name: String, _ check: @escaping Check) {
        checks.withLock { $0.append((name, check)) }
    }

    /// The names of the checks that fail now (empty when ready).
    public func failing() async -> [String] {
        var failing: [String] = []
        for (name, check) in checks.withLock({ $0 }) where await !check() {
            failing.append(name)
        }
        return failing
    }
}
