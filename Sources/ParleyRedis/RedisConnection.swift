import CHiredis
import Dispatch
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one hiredis `redisContext` (one TCP connection) and the serial queue every blocking
/// hiredis call on it runs on, so no hiredis call ever blocks Swift's cooperative pool.
///
/// The context is created lazily and re-created after any I/O error: a connection whose context
/// failed is freed at once and reconnected on the next use (with AUTH and SELECT again).
final class RedisConnection: @unchecked Sendable {
    // Why @unchecked Sendable is safe: `context` is the only mutable state, and it is read and
    // written only inside blocks running on `queue` (serial) or in `deinit` (no other reference
    // left). The pool also leases a connection to one caller at a time. Everything else is `let`.
    let id: Int
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let queue: DispatchQueue
    private var context: UnsafeMutablePointer<redisContext>?

    init(id: Int, configuration: RedisConfiguration, logger: Logger) {
        self.id = id
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "parley.redis.connection"] = "\(id)"
        self.logger = logger
        queue = DispatchQueue(label: "parley.redis.connection.\(id)")
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Sends `commands` in one write and reads one reply per command, on this connection's queue.
    ///
    /// Error replies come back as `.error` values; only connection, timeout and protocol failures
    /// throw. A command that fails with a connection error on a connection that was already open
    /// before this call (a stale connection: the server restarted or dropped it while idle) is
    /// sent once more on a new connection. That makes it at-least-once: if the server executed
    /// it before the connection broke, it runs twice.
    func exchange(_ commands: [RedisCommand]) async throws -> [RESPValue] {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[RESPValue], any Error>) in
            queue.async {
                continuation.resume(with: Result { try self.exchangeOnQueue(commands) })
            }
        }
    }

    /// Frees the context (closes the socket). Later use reconnects.
    func disconnect() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.dropContext()
                continuation.resume()
            }
        }
    }

    // MARK: - On `queue` only

    private func exchangeOnQueue(_ commands: [RedisCommand]) throws(RedisError) -> [RESPValue] {
        let wasOpen = context != nil
        let ctx = try connectIfNeeded()
        do {
            return try roundTrip(ctx, commands)
        } catch {
            dropContext()
            guard wasOpen, error.code == .connection else { throw error }
            logger.info("redis connection lost, retrying on a new one", metadata: ["parley.redis.error": "\(error.message)"])
        }
        let fresh = try connectIfNeeded()
        do {
            return try roundTrip(fresh, commands)
        } catch {
            dropContext()
            throw error
        }
    }

    private func dropContext() {
        if let context {
            redisFree(context)
            self.context = nil
        }
    }

    private var address: String {
        configuration.host.contains(":") ? "[\(configuration.host)]:\(configuration.port)" : "\(configuration.host):\(configuration.port)"
    }

    /// The open context, connecting (TCP, timeouts, AUTH, SELECT) if there is none.
    private func connectIfNeeded() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context {
            if context.pointee.err == 0 { return context }
            dropContext()
        }
        guard let ctx = redisConnectWithTimeout(configuration.host, Int32(configuration.port), timeval(configuration.connectTimeout)) else {
            throw RedisError(code: .connection, message: "cannot allocate a redis context")
        }
        var ready = false
        defer { if !ready { redisFree(ctx) } }
        if ctx.pointee.err != 0 {
            let reason = Self.errorText(ctx)
            logger.debug("redis connect failed", metadata: ["parley.redis.address": "\(address)", "parley.redis.error": "\(reason)"])
            throw RedisError(code: .connection, message: "cannot connect to redis at \(address): \(reason)")
        }
        guard redisSetTimeout(ctx, timeval(configuration.commandTimeout)) == REDIS_OK else {
            throw RedisError(code: .connection, message: "cannot set socket timeouts on redis connection: \(Self.errorText(ctx))")
        }
        _ = redisEnableKeepAlive(ctx)  // best effort: lets the kernel notice a vanished peer on an idle connection

        var handshake: [RedisCommand] = []
        if let password = configuration.password {
            if let username = configuration.username {
                handshake.append(["AUTH", RedisArgument(username), RedisArgument(password)])
            } else {
                handshake.append(["AUTH", RedisArgument(password)])
            }
        }
        if configuration.database != 0 {
            handshake.append(["SELECT", RedisArgument(configuration.database)])
        }
        if !handshake.isEmpty {
            let replies = try roundTrip(ctx, handshake)
            if let failure = replies.compactMap(\.errorMessage).first {
                throw RedisError(code: .authentication, message: "redis at \(address) refused the connection setup: \(failure)")
            }
        }
        ready = true
        context = ctx
        logger.debug("redis connected", metadata: ["parley.redis.address": "\(address)"])
        return ctx
    }

    /// Appends every command to the output buffer, then reads one reply per command.
    private func roundTrip(_ ctx: UnsafeMutablePointer<redisContext>, _ commands: [RedisCommand]) throws(RedisError) -> [RESPValue] {
        for command in commands {
            let status = command.withCArguments { argc, argv, lengths in
                redisAppendCommandArgv(ctx, argc, argv, lengths)
            }
            guard status == REDIS_OK else { throw ioError(ctx, errno: errno) }
        }
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            let status = redisGetReply(ctx, &raw)
            let savedErrno = errno
            guard status == REDIS_OK, let raw else { throw ioError(ctx, errno: savedErrno) }
            defer { freeReplyObject(raw) }
            replies.append(RESPValue(reply: raw.assumingMemoryBound(to: redisReply.self)))
        }
        return replies
    }

    /// Classifies the error a context reports. hiredis 0.14 reports a socket timeout as a plain
    /// I/O error with errno EAGAIN ("Resource temporarily unavailable"), so the errno decides.
    private func ioError(_ ctx: UnsafeMutablePointer<redisContext>, errno savedErrno: Int32) -> RedisError {
        let text = Self.errorText(ctx)
        switch ctx.pointee.err {
        case REDIS_ERR_IO where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK:
            return RedisError(code: .timeout, message: "redis at \(address) sent no reply within \(configuration.commandTimeout)")
        case REDIS_ERR_PROTOCOL:
            return RedisError(code: .protocol, message: "redis protocol error from \(address): \(text)")
        case REDIS_ERR_OOM:
            return RedisError(code: .connection, message: "out of memory in hiredis: \(text)")
        default:
            return RedisError(code: .connection, message: "redis connection to \(address) failed: \(text.isEmpty ? "unknown error" : text)")
        }
    }

    private static func errorText(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: ctx.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}

extension RESPValue {
    /// Copies a hiredis reply tree into Swift values (the caller frees the reply).
    init(reply: UnsafePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .bulk(r.len > 0 && r.str != nil ? Array(UnsafeRawBufferPointer(start: r.str, count: r.len)) : [])
        case REDIS_REPLY_STATUS:
            self = .status(Self.text(r))
        case REDIS_REPLY_ERROR:
            self = .error(Self.text(r))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int64(r.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element?[index] {
                    elements.append(RESPValue(reply: element))
                } else {
                    elements.append(.null)
                }
            }
            self = .array(elements)
        default:  // REDIS_REPLY_NIL
            self = .null
        }
    }

    private static func text(_ r: redisReply) -> String {
        guard let str = r.str, r.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self)
    }
}

extension Array where Element == RedisArgument {
    /// Lays the arguments out in one C buffer and passes hiredis-style `argc`, `argv`, `argvlen`
    /// to `body`. The pointers are valid only inside `body`.
    func withCArguments<R>(_ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
        let total = reduce(0) { $0 + $1.bytes.count }
        let storage = UnsafeMutablePointer<CChar>.allocate(capacity: Swift.max(total, 1))
        defer { storage.deallocate() }
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        pointers.reserveCapacity(count)
        lengths.reserveCapacity(count)
        var offset = 0
        for argument in self {
            argument.bytes.withUnsafeBytes { source in
                if let base = source.baseAddress, source.count > 0 {
                    UnsafeMutableRawPointer(storage + offset).copyMemory(from: base, byteCount: source.count)
                }
            }
            pointers.append(UnsafePointer(storage + offset))
            lengths.append(argument.bytes.count)
            offset += argument.bytes.count
        }
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { argvlen in
                body(Int32(count), argv.baseAddress!, argvlen.baseAddress!)
            }
        }
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: .init(seconds), tv_usec: .init(attoseconds / 1_000_000_000_000))
    }
}
