import Crypto

/// A Lua script: its source, how many keys a call passes, and what its reply decodes to.
///
/// Redis runs a script atomically, so a script is how Parley makes a multi-step update atomic
/// (not MULTI/EXEC). A call (``call(keys:arguments:)``) is a ``RedisCommand`` sent as `EVALSHA`
/// with the script's SHA1: the client loads the script with `SCRIPT LOAD` in the same round trip
/// the first time a connection uses it, and when the server answers `NOSCRIPT` (its script
/// cache was flushed) it loads it and sends the call again, so callers never see `NOSCRIPT`.
///
/// A script must touch only the keys a call passes (as Redis Cluster requires), and those keys
/// must share one cluster slot: give them one hash tag (`presence:{alice}`).
public struct RedisScript<Reply: Sendable>: Sendable {
    /// The Lua source.
    public let source: String
    /// The SHA1 of the source, hex, as `EVALSHA` and `SCRIPT LOAD` name it.
    public let sha1: String
    /// How many keys every call passes (`KEYS[1]` … `KEYS[keyCount]`); nil when each call
    /// passes as many as it needs (a batch whose items each have a key).
    public let keyCount: Int?
    private let decode: @Sendable (RESPValue) throws(RedisError) -> Reply

    /// A script whose calls pass `keys` keys; `decode` reads its reply.
    public init(keys keyCount: Int, _ source: String, decode: @escaping @Sendable (RESPValue) throws(RedisError) -> Reply) {
        self.init(keyCount: keyCount, source, decode: decode)
    }

    /// A script whose calls pass any number of keys (still all on one slot); `decode` reads its reply.
    public init(anyKeys source: String, decode: @escaping @Sendable (RESPValue) throws(RedisError) -> Reply) {
        self.init(keyCount: nil, source, decode: decode)
    }

    private init(keyCount: Int?, _ source: String, decode: @escaping @Sendable (RESPValue) throws(RedisError) -> Reply) {
        self.source = source
        sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        self.keyCount = keyCount
        self.decode = decode
    }

    /// A call with these keys (exactly ``keyCount`` if the script has one, all on one slot) and
    /// arguments (`ARGV`).
    public func call(keys: [String], arguments: [RedisArgument] = []) -> RedisCommand<Reply> {
        if let keyCount {
            precondition(keys.count == keyCount, "a call of this script passes \(keyCount) keys, not \(keys.count)")
        }
        return RedisCommand(["EVALSHA", RedisArgument(sha1), RedisArgument(keys.count)] + keys.map { RedisArgument($0) } + arguments,
                            keys: keys, script: RedisScriptBody(sha1: sha1, source: source), decode: decode)
    }
}

/// What a connection needs to load a script: `SCRIPT LOAD source` answers `sha1`.
struct RedisScriptBody: Sendable, Hashable {
    let sha1: String
    let source: String

    var load: [RedisArgument] { ["SCRIPT", "LOAD", RedisArgument(source)] }
}
