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
///
/// Order: on one server the commands run in pipeline order. A cluster runs each node's share in
/// order, but the nodes' shares at the same time, so only commands of one node (one slot, in
/// particular) keep their order; a command that must run after an earlier one of another slot
/// says so with ``add(_:after:)``.
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

    /// Appends `command` to run only after `earlier` ran, also when their slots are on two
    /// cluster nodes (the pipeline then takes one more round trip there); its reply will be at
    /// the returned entry.
    @discardableResult
    public mutating func add<Reply, Earlier>(_ command: RedisCommand<Reply>, after earlier: Entry<Earlier>) -> Entry<Reply> {
        add(command, after: [earlier])
    }

    /// Appends `command` to run only after every one of `earlier` ran (the single-entry `add(_:after:)`).
    @discardableResult
    public mutating func add<Reply, Earlier>(_ command: RedisCommand<Reply>, after earlier: [Entry<Earlier>]) -> Entry<Reply> {
        var request = command.request
        request.after = earlier.map(\.index)
        requests.append(request)
        return Entry(index: requests.count - 1, decode: command.decode)
    }
}
