import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one hiredis `redisContext`: one blocking TCP connection, freed with the object.
///
/// Every method blocks its thread on the network, so a context is used only on its
/// ``RedisConnection``'s serial queue, never on Swift's cooperative pool; it is not Sendable.
/// The C pointer never leaves this class, and replies are copied into ``RESPValue`` before
/// hiredis frees them.
final class RedisContext {
    private let context: UnsafeMutablePointer<redisContext>
    private let address: String
    private let commandTimeout: Duration

    /// Connects (TCP) within `connectTimeout`; each later read or write waits at most `commandTimeout`.
    static func open(host: String, port: Int, connectTimeout: Duration, commandTimeout: Duration) throws(RedisError) -> RedisContext {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let context = redisConnectWithTimeout(host, Int32(port), timeval(connectTimeout)) else {
            throw RedisError(code: .connection, message: "cannot allocate a redis context")
        }
        if context.pointee.err != 0 {
            let reason = errorText(context)
            redisFree(context)
            throw RedisError(code: .connection, message: "cannot connect to redis at \(address): \(reason)")
        }
        guard redisSetTimeout(context, timeval(commandTimeout)) == REDIS_OK else {
            let reason = errorText(context)
            redisFree(context)
            throw RedisError(code: .connection, message: "cannot set socket timeouts on redis connection to \(address): \(reason)")
        }
        _ = redisEnableKeepAlive(context)  // best effort: lets the kernel notice a vanished peer on an idle connection
        return RedisContext(context, address: address, commandTimeout: commandTimeout)
    }

    private init(_ context: UnsafeMutablePointer<redisContext>, address: String, commandTimeout: Duration) {
        self.context = context
        self.address = address
        self.commandTimeout = commandTimeout
    }

    deinit { redisFree(context) }

    /// True once an I/O or protocol error broke the connection; it cannot be used again.
    var isBroken: Bool { context.pointee.err != 0 }

    /// Writes every command in one go, then reads one reply per command. Error replies come back
    /// as `.error`; a connection failure, timeout or protocol error throws and breaks the context.
    func roundTrip(_ commands: [[RedisArgument]]) throws(RedisError) -> [RESPValue] {
        for command in commands {
            let status = command.withCArguments { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            guard status == REDIS_OK else { throw ioError(errno: errno) }
        }
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            let status = redisGetReply(context, &raw)
            let savedErrno = errno
            guard status == REDIS_OK, let raw else { throw ioError(errno: savedErrno) }
            defer { freeReplyObject(raw) }
            replies.append(RESPValue(reply: raw.assumingMemoryBound(to: redisReply.self)))
        }
        return replies
    }

    /// Classifies the error the context reports. hiredis 0.14 reports a socket timeout as a plain
    /// I/O error with errno EAGAIN ("Resource temporarily unavailable"), so the errno decides.
    private func ioError(errno savedErrno: Int32) -> RedisError {
        let text = Self.errorText(context)
        switch context.pointee.err {
        case REDIS_ERR_IO where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK:
            return RedisError(code: .timeout, message: "redis at \(address) sent no reply within \(commandTimeout)")
        case REDIS_ERR_PROTOCOL:
            return RedisError(code: .protocol, message: "redis protocol error from \(address): \(text)")
        case REDIS_ERR_OOM:
            return RedisError(code: .connection, message: "out of memory in hiredis: \(text)")
        default:
            return RedisError(code: .connection, message: "redis connection to \(address) failed: \(text.isEmpty ? "unknown error" : text)")
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}

extension RESPValue {
    /// Copies a hiredis reply tree into Swift values (the caller frees the reply).
    fileprivate init(reply: UnsafePointer<redisReply>) {
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
    fileprivate func withCArguments<R>(_ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
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
    fileprivate init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: .init(seconds), tv_usec: .init(attoseconds / 1_000_000_000_000))
    }
}
