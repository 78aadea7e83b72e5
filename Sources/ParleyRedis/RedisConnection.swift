import Dispatch
import Logging

/// One pooled connection: a ``RedisContext`` and the serial queue every blocking hiredis call on
/// it runs on. Dispatch runs that queue on a worker thread of its own pool, so no hiredis call
/// ever blocks Swift's cooperative pool; callers await a continuation.
///
/// The context is opened lazily and re-opened after any I/O error: a context that failed is
/// freed at once and a new one made on the next use (with AUTH and SELECT again).
final class RedisConnection: @unchecked Sendable {
    // Why @unchecked Sendable is safe: `context` and `loadedScripts` are the only mutable state,
    // and they are read and written only inside blocks running on `queue` (serial). The pool also
    // leases a connection to one caller at a time. Everything else is `let`.
    let id: Int
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let queue: DispatchQueue
    private var context: RedisContext?
    /// SHA1s of the scripts loaded over `context` (a new context starts empty).
    private var loadedScripts: Set<String> = []

    init(id: Int, configuration: RedisConfiguration, logger: Logger) {
        self.id = id
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "parley.redis.connection"] = "\(id)"
        self.logger = logger
        queue = DispatchQueue(label: "parley.redis.connection.\(id)")
    }

    /// Sends `requests` in one write and reads one reply per request, on this connection's queue.
    ///
    /// Error replies come back as `.error` values; only connection, timeout and protocol failures
    /// throw. A script this connection has not loaded yet is loaded in the same round trip; a
    /// script call the server answers with NOSCRIPT (its cache was flushed while this connection
    /// stayed open) is sent again after loading the script, after the rest of the requests ran,
    /// in the order the failed calls had.
    ///
    /// Requests that fail with a connection error on a connection that was already open before
    /// this call (a stale connection: the server restarted or dropped it while idle) are sent
    /// once more on a new connection. That makes them at-least-once: if the server executed
    /// them before the connection broke, they run twice.
    func exchange(_ requests: [RedisRequest]) async throws -> [RESPValue] {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[RESPValue], any Error>) in
            queue.async {
                continuation.resume(with: Result { () throws(RedisError) in try self.exchangeOnQueue(requests) })
            }
        }
    }

    /// Frees the context (closes the socket) on the connection's queue, then calls `done`. Later
    /// use reconnects.
    func disconnect(then done: @escaping @Sendable () -> Void = {}) {
        queue.async {
            self.context = nil
            done()
        }
    }

    // MARK: - On `queue` only

    private func exchangeOnQueue(_ requests: [RedisRequest]) throws(RedisError) -> [RESPValue] {
        var replies = try exchangeReconnecting(requests)
        let flushed = requests.indices.filter { index in
            requests[index].script != nil && replies[index].errorMessage?.hasPrefix("NOSCRIPT") == true
        }
        guard !flushed.isEmpty else { return replies }
        logger.info("redis lost its scripts, loading them again", metadata: ["parley.redis.calls": "\(flushed.count)"])
        loadedScripts = []
        let retried = try exchangeReconnecting(flushed.map { requests[$0] })
        for (index, reply) in zip(flushed, retried) { replies[index] = reply }
        return replies
    }

    private func exchangeReconnecting(_ requests: [RedisRequest]) throws(RedisError) -> [RESPValue] {
        let wasOpen = context != nil
        do {
            return try exchangeLoadingScripts(requests)
        } catch {
            context = nil
            guard wasOpen, error.code == .connection else { throw error }
            logger.info("redis connection lost, retrying on a new one", metadata: ["parley.redis.error": "\(error.message)"])
        }
        do {
            return try exchangeLoadingScripts(requests)
        } catch {
            context = nil
            throw error
        }
    }

    /// One round trip: SCRIPT LOAD for each script the context has not loaded, then the requests.
    private func exchangeLoadingScripts(_ requests: [RedisRequest]) throws(RedisError) -> [RESPValue] {
        let context = try openContext()
        var loads: [RedisScriptBody] = []
        for request in requests {
            if let script = request.script, !loadedScripts.contains(script.sha1), !loads.contains(script) { loads.append(script) }
        }
        let replies = try context.roundTrip(loads.map(\.load) + requests.map(\.arguments))
        for (script, reply) in zip(loads, replies) {
            if let failure = reply.errorMessage {
                throw RedisError(code: .server, message: "SCRIPT LOAD of \(script.sha1) failed: \(failure)")
            }
            loadedScripts.insert(script.sha1)
        }
        return Array(replies.dropFirst(loads.count))
    }

    /// The open context, connecting (TCP, timeouts, AUTH, SELECT) if there is none.
    private func openContext() throws(RedisError) -> RedisContext {
        if let context, !context.isBroken { return context }
        context = nil
        loadedScripts = []
        let opened: RedisContext
        do {
            opened = try RedisContext.open(host: configuration.host, port: configuration.port,
                                           connectTimeout: configuration.connectTimeout,
                                           commandTimeout: configuration.commandTimeout)
        } catch {
            logger.debug("redis connect failed", metadata: ["parley.redis.error": "\(error.message)"])
            throw error
        }
        let handshake = handshakeCommands
        if !handshake.isEmpty {
            let replies = try opened.roundTrip(handshake)
            if let failure = replies.compactMap(\.errorMessage).first {
                throw RedisError(code: .authentication, message: "redis at \(configuration) refused the connection setup: \(failure)")
            }
        }
        context = opened
        logger.debug("redis connected")
        return opened
    }

    private var handshakeCommands: [[RedisArgument]] {
        var commands: [[RedisArgument]] = []
        if let password = configuration.password {
            if let username = configuration.username {
                commands.append(["AUTH", RedisArgument(username), RedisArgument(password)])
            } else {
                commands.append(["AUTH", RedisArgument(password)])
            }
        }
        if configuration.database != 0 { commands.append(["SELECT", RedisArgument(configuration.database)]) }
        return commands
    }
}
