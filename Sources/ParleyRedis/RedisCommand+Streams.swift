// Typed stream commands.

/// A stream entry id, `<milliseconds>-<sequence>`. Redis makes both parts from the clock when it
/// picks the id; an application that sets ids itself (`XADD key 42-0 …`) gives them its own meaning.
public struct RedisStreamID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    /// The id `<milliseconds>-<sequence>`.
    public init(_ milliseconds: UInt64, _ sequence: UInt64 = 0) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Reads `<milliseconds>-<sequence>` as Redis writes it; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let milliseconds = UInt64(parts[0]), let sequence = UInt64(parts[1]) else { return nil }
        self.init(milliseconds, sequence)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    public static func < (a: Self, b: Self) -> Bool { (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence) }
}

/// One end of an `XRANGE`/`XREVRANGE` interval.
public struct RedisStreamBound: Sendable, Hashable {
    let argument: RedisArgument

    /// `-`: below every id.
    public static let minimum = RedisStreamBound(argument: "-")
    /// `+`: above every id.
    public static let maximum = RedisStreamBound(argument: "+")
    /// The interval includes `id`.
    public static func inclusive(_ id: RedisStreamID) -> Self { Self(argument: RedisArgument(id.description)) }
    /// The interval stops just short of `id` (`(id`, Redis 6.2 and later).
    public static func exclusive(_ id: RedisStreamID) -> Self { Self(argument: RedisArgument("(\(id)")) }
}

/// A stream entry: its id and its fields (binary values; a field named twice keeps its last value).
public struct RedisStreamEntry: Sendable, Equatable {
    public let id: RedisStreamID
    public let fields: [String: [UInt8]]

    public init(id: RedisStreamID, fields: [String: [UInt8]]) {
        self.id = id
        self.fields = fields
    }
}

extension RedisCommand where Reply == [RedisStreamEntry] {
    /// XRANGE: the entries from `start` to `end`, oldest first, at most `count` of them.
    public static func xrange(_ key: String, from start: RedisStreamBound = .minimum, to end: RedisStreamBound = .maximum,
                              count: Int? = nil) -> Self {
        range("XRANGE", key, start, end, count)
    }

    /// XREVRANGE: the entries from `end` down to `start`, newest first, at most `count` of them.
    public static func xrevrange(_ key: String, from end: RedisStreamBound = .maximum, to start: RedisStreamBound = .minimum,
                                 count: Int? = nil) -> Self {
        range("XREVRANGE", key, end, start, count)
    }

    private static func range(_ name: RedisArgument, _ key: String, _ first: RedisStreamBound, _ second: RedisStreamBound,
                              _ count: Int?) -> Self {
        var arguments = [name, RedisArgument(key), first.argument, second.argument]
        if let count { arguments += ["COUNT", RedisArgument(count)] }
        return Self(arguments, keys: [key]) { reply throws(RedisError) in
            var entries: [RedisStreamEntry] = []
            for element in try reply.asArray() { entries.append(try RedisStreamEntry(reply: element)) }
            return entries
        }
    }
}

extension RedisStreamEntry {
    /// Reads one `[id, [field, value, …]]` element of a range reply.
    init(reply: RESPValue) throws(RedisError) {
        let parts = try reply.asArray()
        guard parts.count == 2, let text = try parts[0].asString(), let id = RedisStreamID(text) else {
            throw RedisError(code: .protocol, message: "expected a stream entry [id, fields], got \(reply)")
        }
        let items = try parts[1].asArray()
        guard items.count % 2 == 0 else {
            throw RedisError(code: .protocol, message: "stream entry \(id) has \(items.count) items, not field-value pairs")
        }
        var fields: [String: [UInt8]] = [:]
        for index in stride(from: 0, to: items.count, by: 2) {
            guard let name = try items[index].asString(), let value = try items[index + 1].asBytes() else {
                throw RedisError(code: .protocol, message: "stream entry \(id) has a null field or value")
            }
            fields[name] = value
        }
        self.init(id: id, fields: fields)
    }
}
