/// Commands sent together, in order, on one connection in one round trip; each reply is read
/// back as its command's type.
///
/// ```swift
/// var pipeline = RedisPipeline()
/// let first = pipeline.add(.setIfAbsent(dedupKey, msg, expire: .seconds(60)))
/// let sessions = pipeline.add(.hgetall("presence:{bob}"))
/// let replies = try await redis.send(pipeline)
/// let (previous, bob) = (try replies[first], try replies[sessions])   // String?, [String: String]
/// ```
///
/// A pipeline is not atomic: other clients' commands may run between its commands (use a
/// ``RedisScript`` for an atomic step). Its commands may touch keys of different slots.
public struct RedisPipeline: Sendable {
    /// Where one command's reply is in ``Replies``.
    public struct Entry<Reply: Sendable>: Sendable {
        let index: Int
        let decode: @Sendable (RESPValue) throws(RedisError) -> Reply
    }

    /// The replies of a sent pipeline, one per command.
    public struct Replies: Sendable {
        let values: [RESPValue]

        /// The decoded reply of the command `entry` stands for.
        public subscript<Reply>(entry: Entry<Reply>) -> Reply {
            get throws(RedisError) { try entry.decode(values[entry.index]) }
        }
    }

    private(set) var requests: [RedisRequest] = []

    /// An empty pipeline.
    public init() {}

    /// How many commands it holds.
    public var count: Int { requests.count }

    /// True when it holds no command.
    public var isEmpty: Bool { requests.isEmpty }

    /// Appends `command`; its reply will be at the returned entry.
    @discardableResult
    public mutating func add<Reply>(_ command: RedisCommand<Reply>) -> Entry<Reply> {
        requests.append(command.request)
        return Entry(index: requests.count - 1, decode: command.decode)
    }
}
