/// One command: what is sent, which keys it touches, and what its reply decodes to.
///
/// Build commands with the typed constructors (`.hgetall("presence:{alice}")` is a
/// `RedisCommand<[String: String]>`), ``RedisScript/call(keys:arguments:)``, or ``raw(_:keys:)``;
/// send one with ``RedisClient/send(_:)`` or several in one round trip with a ``RedisPipeline``.
///
/// All keys of one command must hash to one Redis Cluster slot (``RedisHashSlot``), as a
/// cluster requires; debug builds assert it when the command is made.
public struct RedisCommand<Reply: Sendable>: Sendable {
    /// What is sent: the command name, then its arguments.
    public let arguments: [RedisArgument]
    /// The keys the command reads or writes.
    public let keys: [String]
    /// The script an EVALSHA runs, so the connection can load it.
    let script: RedisScriptBody?
    let decode: @Sendable (RESPValue) throws(RedisError) -> Reply

    /// A command with its keys and how to read its reply (never an error reply: the client throws those).
    public init(_ arguments: [RedisArgument], keys: [String],
                decode: @escaping @Sendable (RESPValue) throws(RedisError) -> Reply) {
        self.init(arguments, keys: keys, script: nil, decode: decode)
    }

    init(_ arguments: [RedisArgument], keys: [String], script: RedisScriptBody?,
         decode: @escaping @Sendable (RESPValue) throws(RedisError) -> Reply) {
        assert(keys.count < 2 || RedisHashSlot.shared(by: keys) != nil,
               "the keys of one command must share a cluster slot (use one hash tag): \(keys)")
        self.arguments = arguments
        self.keys = keys
        self.script = script
        self.decode = decode
    }

    /// The cluster slot of the command's keys; nil for a command without keys.
    public var slot: RedisHashSlot? { RedisHashSlot.shared(by: keys) }

    /// The same command, its decoded reply passed through `transform`.
    public func map<T: Sendable>(_ transform: @escaping @Sendable (Reply) throws(RedisError) -> T) -> RedisCommand<T> {
        let decode = decode
        return RedisCommand<T>(arguments, keys: keys, script: script) { reply throws(RedisError) in
            try transform(decode(reply))
        }
    }

    /// What the connection sends.
    var request: RedisRequest { RedisRequest(arguments: arguments, script: script, key: keys.first) }
}

extension RedisCommand where Reply == RESPValue {
    /// Any command, its reply undecoded: for commands without a typed constructor (`CLIENT LIST`,
    /// `SCRIPT FLUSH`). Name the keys it touches, if any.
    public static func raw(_ arguments: [RedisArgument], keys: [String] = []) -> Self {
        Self(arguments, keys: keys) { $0 }
    }
}

/// A command as the connection sends it.
struct RedisRequest: Sendable {
    let arguments: [RedisArgument]
    let script: RedisScriptBody?
    /// A key of the command (all its keys share its slot), for routing in cluster mode.
    var key: String? = nil
    /// The indices in its pipeline of the requests that must have run before this one (``RedisPipeline/add(_:after:)``).
    var after: [Int] = []
}
