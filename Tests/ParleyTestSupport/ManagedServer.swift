import Foundation
import Synchronization

/// A real server process started by a test: redis-server or the Tansu broker on a free loopback
/// port. It is killed when stopped or when the object goes away, so a failing test leaves
/// nothing running.
public final class ManagedServer: Sendable {
    public enum Kind: Sendable { case redis, tansu }

    public let kind: Kind
    public let port: Int
    private let state = Mutex<Process?>(nil)
    private let directory: URL

    /// `redis://127.0.0.1:PORT` (redis) or `127.0.0.1:PORT` (tansu).
    public var address: String {
        switch kind {
        case .redis: "redis://127.0.0.1:\(port)"
        case .tansu: "127.0.0.1:\(port)"
        }
    }

    /// Extra command-line arguments appended to the server's own, e.g. `["--requirepass", "s3cret"]`.
    public let extraArguments: [String]

    /// Starts the server on a free port and waits until it accepts connections. `arguments` are
    /// appended to the server's command line (e.g. `["--requirepass", "s3cret"]` for redis).
    public static func start(_ kind: Kind, arguments: [String] = []) async throws -> ManagedServer {
        let server = ManagedServer(kind: kind, port: try freeLoopbackPort(), arguments: arguments)
        try await server.start()
        return server
    }

    private init(kind: Kind, port: Int, arguments: [String]) {
        self.kind = kind
        self.port = port
        extraArguments = arguments
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-\(kind)-\(port)-\(UUID().uuidString.prefix(6))")
    }

    deinit { stop() }

    /// Starts (again) on the same port.
    public func start() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = Process()
        switch kind {
        case .redis:
            process.executableURL = URL(fileURLWithPath: TestEnvironment.binary("redis-server", env: "PARLEY_REDIS_SERVER_BIN"))
            process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", directory.path, "--daemonize", "no", "--loglevel", "warning"]
        case .tansu:
            process.executableURL = URL(fileURLWithPath: TestEnvironment.binary("tansu", env: "PARLEY_TANSU_BIN"))
            process.arguments = ["broker", "--listener-url", "tcp://127.0.0.1:\(port)",
                                 "--advertised-listener-url", "tcp://127.0.0.1:\(port)", "--storage-engine", "memory://tansu/"]
        }
        process.arguments = (process.arguments ?? []) + extraArguments
        let log = directory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        state.withLock { $0 = process }
        try await waitUntilListening(port: port, timeout: .seconds(15))
    }

    /// Kills the server (SIGKILL: a crash, not a shutdown) and waits for it to exit.
    public func stop() {
        let process = state.withLock { current -> Process? in
            defer { current = nil }
            return current
        }
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { ptr -> Int32 in
            guard bind(fd, ptr, len) == 0 else { return -1 }
            return getsockname(fd, ptr, &len)
        }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Waits until something accepts TCP connections on 127.0.0.1:port.
public func waitUntilListening(port: Int, timeout: Duration) async throws {
    try await waitUntil("127.0.0.1:\(port) to accept connections", timeout: timeout, interval: .milliseconds(50)) {
        canConnect(port: port)
    }
}

private func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
