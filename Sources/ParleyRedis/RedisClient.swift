import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Redis client over hiredis with a pool of blocking connections.
///
/// - Up to ``RedisConfiguration/poolSize`` connections, opened on first need; further callers
///   wait in FIFO order as suspended tasks.
/// - Every hiredis call runs on its connection's own serial DispatchQueue, never on Swift's
///   cooperative pool; callers await a continuation.
/// - Each (re)connect sends AUTH and SELECT as configured.
/// - Automatic reconnect: a connection that hit an I/O error is discarded and reopened on its
///   next use. A call that fails with a connection error on a connection that was already open
///   (a stale one: the server restarted or dropped it while it sat idle) is sent once more on a
///   new connection, so such a call is **at-least-once**: if the server ran it before the
///   connection broke, it runs twice. Use idempotent commands (SET NX, HSET, ZADD, ZREM, HDEL…)
///   or accept the duplicate. Timeouts are never retried.
/// - While the server is down, calls fail fast with ``RedisError/Code/connection`` (a refused
///   connect is immediate; an unreachable host is bounded by `connectTimeout`).
/// - A reply that takes longer than `commandTimeout` fails with ``RedisError/Code/timeout`` and
///   the connection is discarded. Cancelling the calling task does not interrupt a command
///   already sent; it ends within `commandTimeout`.
///
/// Creating a client sets SIGPIPE to "ignore" for the process: hiredis 0.14 writes with
/// `write(2)`, and a write to a connection the server has closed must fail with EPIPE rather
/// than kill the process.
///
/// Do not send SELECT, AUTH, MULTI/EXEC pairs, WATCH or SUBSCRIBE through ``send(_:)``: they
/// change the state of a pooled connection that the next caller would inherit. Use
/// ``transaction(_:)`` for MULTI/EXEC.
public final class RedisClient: Sendable {
    /// The configuration this client was made with.
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let pool: ConnectionPool

    /// Creates a client. Nothing connects until the first command (or ``ping()``).
    public init(configuration: RedisConfiguration, logger: Logger) {
        _ = RedisClient.ignoreSIGPIPE
        var logger = logger
        logger[metadataKey: "parley.redis.server"] = "\(configuration)"
        self.configuration = configuration
        self.logger = logger
        pool = ConnectionPool(configuration: configuration, logger: logger)
    }

    private static let ignoreSIGPIPE: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    /// Sends one command and returns its reply.
    ///
    /// A server error reply throws ``RedisError`` with code ``RedisError/Code/server`` and the
    /// reply text as message (e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`).
    @discardableResult
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try Self.validate(command)
        let reply = try await withConnection { try await $0.exchange([command]) }[0]
        if case .error(let message) = reply {
            throw RedisError(code: .server, message: message)
        }
        return reply
    }

    /// Sends the commands pipelined on one connection in one round trip and returns their
    /// replies in order. A command's error reply comes back as `.error` in its place; only
    /// connection failures (and timeouts) throw. The commands are not atomic: use
    /// ``transaction(_:)`` for that.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        for command in commands { try Self.validate(command) }
        return try await withConnection { try await $0.exchange(commands) }
    }

    /// Runs the commands in MULTI … EXEC on one connection (one round trip) and returns EXEC's
    /// replies, one per command; a command that failed while running is `.error` in its place.
    ///
    /// Throws ``RedisError/Code/server`` (`EXECABORT …`, with the first queuing error) when a
    /// command was refused while queuing, so nothing ran, and
    /// ``RedisError/Code/transactionAborted`` when EXEC returned null.
    public func transaction(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        for command in commands { try Self.validate(command) }
        let wrapped: [RedisCommand] = [["MULTI"]] + commands + [["EXEC"]]
        let replies = try await withConnection { try await $0.exchange(wrapped) }
        guard let exec = replies.last else {
            throw RedisError(code: .protocol, message: "no reply to EXEC")
        }
        switch exec {
        case .array(let results):
            return results
        case .null:
            throw RedisError(code: .transactionAborted, message: "transaction aborted: EXEC returned null (a watched key changed)")
        case .error(let message):
            let queuing = replies.dropFirst().dropLast().compactMap(\.errorMessage).first
            throw RedisError(code: .server, message: queuing.map { "\(message) First error: \($0)" } ?? message)
        default:
            throw RedisError(code: .protocol, message: "unexpected reply to EXEC: \(exec)")
        }
    }

    /// Opens a connection now (if none is open) and sends PING: a wrong URL, a bad password or a
    /// server that is down gives a clear error at start instead of at the first real command.
    public func ping() async throws {
        let reply = try await send(["PING"])
        guard reply == .status("PONG") else {
            throw RedisError(code: .protocol, message: "unexpected reply to PING: \(reply)")
        }
    }

    /// Closes idle connections and fails waiting callers; connections in use close when their
    /// command finishes. Later calls throw ``RedisError/Code/closed``.
    public func close() async {
        await pool.close()
        logger.debug("redis client closed")
    }

    private func withConnection<T: Sendable>(_ body: (RedisConnection) async throws -> T) async throws -> T {
        let connection = try await pool.lease()
        defer { pool.release(connection) }
        return try await body(connection)
    }

    private static func validate(_ command: RedisCommand) throws {
        guard !command.isEmpty else {
            throw RedisError(code: .protocol, message: "empty redis command")
        }
    }
}
