/// One reply from the server, as hiredis 0.14 (RESP2) reports it.
public enum RESPValue: Sendable, Equatable, Hashable {
    /// A null bulk string or null array (`$-1`, `*-1`): a missing key or field.
    case null
    /// A simple string (`+OK`).
    case status(String)
    /// An error reply (`-WRONGTYPE …`). ``RedisClient`` throws these; decoders never see them.
    case error(String)
    /// An integer reply (`:1`).
    case integer(Int64)
    /// A bulk string, binary-safe.
    case bulk([UInt8])
    /// An array of replies.
    case array([RESPValue])
}

// Decoding a reply into what a command promises. Each throws a `.protocol` RedisError when the
// reply has another shape, so a command whose reply changed shape fails loudly.
extension RESPValue {
    /// An integer reply, or a bulk/status reply holding a decimal integer (Redis returns numbers both ways).
    public func asInteger() throws(RedisError) -> Int {
        switch self {
        case .integer(let value): return Int(value)
        case .bulk, .status:
            if let text = try asString(), let value = Int(text) { return value }
        default: break
        }
        throw unexpected("an integer")
    }

    /// A bulk or status reply holding a number (`ZSCORE`, `WITHSCORES`); nil for null.
    public func asDouble() throws(RedisError) -> Double? {
        switch self {
        case .null: return nil
        case .integer(let value): return Double(value)
        case .bulk, .status:
            if let text = try asString(), let value = Double(text) { return value }
        default: break
        }
        throw unexpected("a number")
    }

    /// A bulk or status reply as text (invalid UTF-8 repaired with U+FFFD); nil for null.
    public func asString() throws(RedisError) -> String? {
        switch self {
        case .null: nil
        case .status(let text): text
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        default: throw unexpected("a string")
        }
    }

    /// A bulk reply's bytes; nil for null.
    public func asBytes() throws(RedisError) -> [UInt8]? {
        switch self {
        case .null: nil
        case .bulk(let bytes): bytes
        default: throw unexpected("a bulk string")
        }
    }

    /// The elements of an array reply (a null array is empty).
    public func asArray() throws(RedisError) -> [RESPValue] {
        switch self {
        case .null: []
        case .array(let values): values
        default: throw unexpected("an array")
        }
    }

    /// The elements of an array reply as text (`ZRANGE`, `SMEMBERS`); a null element is an error.
    public func asStrings() throws(RedisError) -> [String] {
        var strings: [String] = []
        for element in try asArray() {
            guard let string = try element.asString() else { throw unexpected("an array of strings") }
            strings.append(string)
        }
        return strings
    }

    /// The text of an error reply, nil for any other reply.
    public var errorMessage: String? {
        if case .error(let text) = self { return text }
        return nil
    }

    private func unexpected(_ expected: String) -> RedisError {
        RedisError(code: .protocol, message: "expected \(expected) reply, got \(self)")
    }
}
