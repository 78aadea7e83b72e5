import Logging
import Metrics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Redis client over hiredis with a pool of blocking connections.
///
/// - Commands are typed (``RedisCommand``): each knows its keys and what its reply decodes to.
///   A ``RedisPipeline`` sends many in one round trip; a ``RedisScript`` is an atomic step, sent
///   as EVALSHA and loaded transparently.
/// - Up to ``RedisConfiguration/poolSize`` connections, opened on first need; further callers
///   wait in FIFO order as suspended tasks.
/// - Every hiredis call runs on its connection's own serial DispatchQueue (a Dispatch worker
///   thread), never on Swift's cooperative pool; callers await a continuation.
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
/// Do not send SELECT, AUTH, MULTI, WATCH or SUBSCRIBE: they change the state of a pooled
/// connection that the next caller would inherit. Make multi-step updates atomic with a
/// ``RedisScript`` instead of MULTI/EXEC (a script on one slot also works on Redis Cluster).
public final class RedisClient: Sendable {
    /// The configuration this client was made with.
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let pool: ConnectionPool
    private let roundTrips = RoundTripTimers()

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

    /// Sends one command and returns its decoded reply.
    ///
    /// A server error reply throws ``RedisError`` with code ``RedisError/Code/server`` and the
    /// reply text as message (e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`).
    @discardableResult
    public func send<Reply>(_ command: RedisCommand<Reply>) async throws -> Reply {
        try command.decode(await execute([command.request])[0])
    }

    /// Sends the pipeline's commands in one round trip on one connection and returns their replies.
    ///
    /// Every command runs; if any got an error reply, this throws the first one (code
    /// ``RedisError/Code/server``) after all replies were read. A pipeline is not atomic.
    public func send(_ pipeline: RedisPipeline) async throws -> RedisPipeline.Replies {
        guard !pipeline.isEmpty else { return RedisPipeline.Replies(values: []) }
        return RedisPipeline.Replies(values: try await execute(pipeline.requests))
    }

    /// Sends a fixed set of commands as one pipeline and returns their decoded replies:
    /// `let (removed, deleted) = try await redis.pipeline(.zrem(a, ids), .hdel(b, ids))`.
    public func pipeline<each Reply>(_ commands: repeat RedisCommand<each Reply>) async throws -> (repeat each Reply) {
        var pipeline = RedisPipeline()
        let entries = (repeat pipeline.add(each commands))
        let replies = try await send(pipeline)
        return (repeat try replies[each entries])
    }

    /// Opens a connection now (if none is open) and sends PING: a wrong URL, a bad password or a
    /// server that is down gives a clear error at start instead of at the first real command.
    public func ping() async throws {
        let reply = try await send(.raw(["PING"]))
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

    /// Sends the requests on one leased connection; throws the first error reply after all ran.
    private func execute(_ requests: [RedisRequest]) async throws -> [RESPValue] {
        guard requests.allSatisfy({ !$0.arguments.isEmpty }) else {
            throw RedisError(code: .protocol, message: "empty redis command")
        }
        let connection = try await pool.lease()
        defer { pool.release(connection) }
        let start = ContinuousClock.now
        let replies = try await connection.exchange(requests)
        roundTrips.timer(for: requests).record(duration: ContinuousClock.now - start)
        if let failure = replies.lazy.compactMap(\.errorMessage).first {
            throw RedisError(code: .server, message: failure)
        }
        return replies
    }
}
