/// One reply from the server, as hiredis 0.14 (RESP2) reports it.
public enum RESPValue: Sendable, Equatable, Hashable {
    /// A null bulk string or null array (`$-1`, `*-1`): a missing key, an aborted EXEC.
    case null
    /// A simple string (`+OK`, `+QUEUED`).
    case status(String)
    /// An error reply (`-WRONGTYPE …`). ``RedisClient/send(_:)`` throws these; pipelines return them.
    case error(String)
    /// An integer reply (`:1`).
    case integer(Int64)
    /// A bulk string, binary-safe.
    case bulk([UInt8])
    /// An array of replies.
    case array([RESPValue])

    /// A bulk or status reply as a String. Invalid UTF-8 is repaired with U+FFFD; use ``bytes`` for binary values.
    public var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    /// A bulk reply's bytes (or a status reply's UTF-8 bytes).
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): bytes
        case .status(let text): Array(text.utf8)
        default: nil
        }
    }

    /// An integer reply, or a bulk/status reply holding a decimal integer (Redis returns numbers both ways).
    public var int: Int64? {
        switch self {
        case .integer(let value): value
        case .bulk, .status: string.flatMap { Int64($0) }
        default: nil
        }
    }

    /// A bulk or status reply holding a number (e.g. ZSCORE), or an integer reply.
    public var double: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .bulk, .status: string.flatMap { Double($0) }
        default: nil
        }
    }

    /// The elements of an array reply.
    public var array: [RESPValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// True for a null reply.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The text of an error reply.
    public var errorMessage: String? {
        if case .error(let text) = self { return text }
        return nil
    }
}
