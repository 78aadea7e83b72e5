import Foundation

/// Where the shared test servers are. `make test` (scripts/test.sh) starts a redis-server and a
/// Tansu broker on free loopback ports and exports their addresses; tests that need a private
/// server (to stop or restart it) start their own with ``ManagedServer``.
public enum TestEnvironment {
    /// `redis://127.0.0.1:PORT` of the shared test redis-server, or with `PARLEY_TEST_REDIS=cluster`
    /// `redis+cluster://127.0.0.1:P1,…` of the shared 6-node test cluster.
    public static var redisURL: String { required("PARLEY_TEST_REDIS_URL") }
    /// True when `PARLEY_TEST_REDIS=cluster` (scripts/test.sh's cluster pass): ``redisURL`` is a cluster.
    public static var redisIsCluster: Bool { ProcessInfo.processInfo.environment["PARLEY_TEST_REDIS"] == "cluster" }
    /// `127.0.0.1:PORT` of the shared test broker.
    public static var kafkaBrokers: String { required("PARLEY_TEST_KAFKA_BROKERS") }

    /// A topic prefix no other test uses, so tests can share one broker.
    public static func uniquePrefix(_ name: String = "t") -> String {
        "\(name)-\(UUID().uuidString.prefix(8).lowercased())."
    }

    /// A path to a binary: `$NAME_BIN` if set, else `.parley/bin/NAME`, else the PATH.
    public static func binary(_ name: String, env: String) -> String {
        if let path = ProcessInfo.processInfo.environment[env], !path.isEmpty { return path }
        let local = projectRoot.appendingPathComponent(".parley/bin/\(name)").path
        if FileManager.default.isExecutableFile(atPath: local) { return local }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return name
    }

    /// The repository root (two levels above this file's folder).
    public static let projectRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static func required(_ name: String) -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            fatalError("\(name) is not set: run the suite with `make test`, which starts redis-server and the broker")
        }
        return value
    }
}
