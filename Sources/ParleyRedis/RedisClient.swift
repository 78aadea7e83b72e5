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
/// Cluster mode (``RedisConfiguration/isCluster``, `redis+cluster://`): a pool per primary, each
/// command sent to the primary of its key's slot, a pipeline split by node (its commands of one
/// slot keep their order; different nodes run their shares at the same time) with the replies
/// in pipeline order; `MOVED`, `ASK`, connection errors and a failover in progress are followed
/// and retried within a bound (``ClusterRouter``). A command without keys goes to any primary.
///
/// Do not send SELECT, AUTH, MULTI, WATCH or SUBSCRIBE: they change the state of a pooled
/// connection that the next caller would inherit. Make multi-step updates atomic with a
/// ``RedisScript`` instead of MULTI/EXEC (a script on one slot also works on Redis Cluster).
public final class RedisClient: Sendable {
    /// The configuration this client was made with.
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let route: Route

    /// Where requests go: the one server's pool, or the cluster's primaries.
    private enum Route: Sendable {
        case single(ConnectionPool)
        case cluster(ClusterRouter)
    }
    private let roundTrips = RoundTripTimers()

    /// Creates a client. Nothing connects until the first command (or ``ping()``).
    public init(configuration: RedisConfiguration, logger: Logger) {
        _ = RedisClient.ignoreSIGPIPE
        var logger = logger
        logger[metadataKey: "parley.redis.server"] = "\(configuration)"
        self.configuration = configuration
        self.logger = logger
        route = configuration.isCluster
            ? .cluster(ClusterRouter(configuration: configuration, logger: logger))
            : .single(ConnectionPool(configuration: configuration, logger: logger))
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

    /// Sends the pipeline's commands in one round trip on one connection (in cluster mode: one
    /// per node touched, more for commands added `after` others) and returns their replies.
    ///
    /// Every command runs; if any got an error reply, this throws the first one (code
    /// ``RedisError/Code/server``) after all replies were read. A pipeline is not atomic.
    public func send(_ pipeline: RedisPipeline) async throws -> RedisPipeline.Replies {
        guard !pipeline.isEmpty else { return RedisPipeline.Replies(values: []) }
        return RedisPipeline.Replies(values: try await execute(pipeline.requests))
    }

    /// Sends the pipeline like `send(_:)` of a pipeline, then waits until its writes reached
    /// ``RedisConfiguration/replicasToWait`` replicas: `WAIT` in the same round trip on each node
    /// it touched (a plain send when that is 0, as by default in single-endpoint mode).
    ///
    /// Use it for the writes a batch must not lose before it produces or commits: Redis
    /// replicates asynchronously, and a failover loses what the old primary had not passed on.
    /// Throws ``RedisError/Code/replication`` when too few replicas acknowledged in time; the
    /// writes did happen, so retry the same idempotent batch.
    public func sendDurably(_ pipeline: RedisPipeline) async throws -> RedisPipeline.Replies {
        guard !pipeline.isEmpty else { return RedisPipeline.Replies(values: []) }
        return RedisPipeline.Replies(values: try await execute(pipeline.requests, wait: configuration.replicasToWait))
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

    /// In cluster mode, loads the slot map again and answers which primary serves which slots,
    /// as text that changes exactly when a failover or a resharding moved slots; nil in
    /// single-endpoint mode.
    public func clusterSlotMap() async throws -> String? {
        guard case .cluster(let router) = route else { return nil }
        return try await router.reloadedTopology().summary
    }

    /// Closes idle connections and fails waiting callers; connections in use close when their
    /// command finishes. Later calls throw ``RedisError/Code/closed``.
    public func close() async {
        switch route {
        case .single(let pool): await pool.close()
        case .cluster(let router): await router.close()
        }
        logger.debug("redis client closed")
    }

    /// Sends the requests (on one leased connection, or routed over the cluster), with `WAIT
    /// wait` after them if `wait` > 0; throws the first error reply after all ran.
    private func execute(_ requests: [RedisRequest], wait: Int = 0) async throws -> [RESPValue] {
        guard requests.allSatisfy({ !$0.arguments.isEmpty }) else {
            throw RedisError(code: .protocol, message: "empty redis command")
        }
        let start = ContinuousClock.now
        let replies: [RESPValue]
        switch route {
        case .single(let pool):
            let connection = try await pool.lease()
            defer { pool.release(connection) }
            if wait > 0 {
                var all = try await connection.exchange(requests + [ReplicaWait.request(configuration, replicas: wait)])
                try ReplicaWait.check(all.removeLast(), wanted: wait, node: configuration)
                replies = all
            } else {
                replies = try await connection.exchange(requests)
            }
        case .cluster(let router):
            replies = try await router.execute(requests, wait: wait)
        }
        roundTrips.timer(for: requests).record(duration: ContinuousClock.now - start)
        if let failure = replies.lazy.compactMap(\.errorMessage).first {
            throw RedisError(code: .server, message: failure)
        }
        return replies
    }
}
