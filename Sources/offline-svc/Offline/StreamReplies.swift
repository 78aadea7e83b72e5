import ParleyRedis

// What the stream scripts (``StreamScripts``) answer, decoded.

/// An append: the entry's seq and who to deliver it to.
struct AppendOutcome: Sendable, Equatable {
    /// The entry's seq; 0 for a receipt or read entry at or below its watermark (nothing to deliver).
    var seq: UInt64
    /// The entry was in the stream already (a replayed record).
    var duplicate: Bool
    /// The stream's epoch (empty when there is nothing to deliver).
    var epoch: String
    var subscribers: [Subscriber]

    init(reply: RESPValue) throws(RedisError) {
        var reader = try ReplyReader(reply)
        seq = try reader.number()
        duplicate = try reader.number() == 1
        epoch = reader.isAtEnd ? "" : try reader.string()
        subscribers = try reader.subscribers()
    }
}

/// A stored entry as a sync page reads it: its seq and its JSON (without `seq` and `body`).
struct StoredEntry: Sendable, Equatable {
    var seq: UInt64
    var json: [UInt8]
}

/// The start of a sync page.
struct SyncOutcome: Sendable, Equatable {
    var epoch: String
    var head: UInt64
    /// The page follows this seq (the head after a reset).
    var after: UInt64
    var reset: Bool
    /// Entries beyond the page's last one exist.
    var more: Bool
    var entries: [StoredEntry]

    init(reply: RESPValue) throws(RedisError) {
        var reader = try ReplyReader(reply)
        epoch = try reader.string()
        head = try reader.number()
        after = try reader.number()
        reset = try reader.number() == 1
        more = try reader.number() == 1
        entries = []
        while !reader.isAtEnd { entries.append(StoredEntry(seq: try reader.number(), json: try reader.bytes())) }
    }
}

/// A message an ack newly covers: the newest of its conversation from another user.
struct AckedMessage: Sendable, Hashable {
    var conv: String
    var cseq: UInt64
    var msg: String
    var from: String
    /// The sender's client id.
    var id: String?
}

/// What an ack newly covers.
struct AckOutcome: Sendable, Equatable {
    var messages: [AckedMessage]

    init(reply: RESPValue) throws(RedisError) {
        var reader = try ReplyReader(reply)
        messages = []
        while !reader.isAtEnd {
            let conv = try reader.string(), cseq = try reader.number(), msg = try reader.string(), from = try reader.string()
            let id = try reader.string()
            messages.append(AckedMessage(conv: conv, cseq: cseq, msg: msg, from: from, id: id.isEmpty ? nil : id))
        }
    }
}

/// A read move.
enum ReadOutcome: Sendable, Equatable {
    /// The stream holds no message of the conversation.
    case notMember
    /// The read cursor moved from `before` to `read` (equal when it did not move); the `read` entry
    /// has `seq` (0: none, at or below its watermark).
    case moved(before: UInt64, read: UInt64, seq: UInt64, duplicate: Bool, epoch: String, subscribers: [Subscriber])

    init(reply: RESPValue) throws(RedisError) {
        var reader = try ReplyReader(reply)
        let before = try reader.integer()
        guard before >= 0 else {
            self = .notMember
            return
        }
        self = .moved(before: UInt64(before), read: try reader.number(), seq: try reader.number(), duplicate: try reader.number() == 1,
                      epoch: reader.isAtEnd ? "" : try reader.string(), subscribers: try reader.subscribers())
    }
}

/// Reads a script's flat array reply item by item.
private struct ReplyReader {
    private let items: [RESPValue]
    private var index = 0

    init(_ reply: RESPValue) throws(RedisError) { items = try reply.asArray() }

    var isAtEnd: Bool { index >= items.count }

    private mutating func next() throws(RedisError) -> RESPValue {
        guard index < items.count else {
            throw RedisError(code: .protocol, message: "stream script reply ended after \(items.count) items")
        }
        defer { index += 1 }
        return items[index]
    }

    mutating func integer() throws(RedisError) -> Int { try next().asInteger() }

    mutating func number() throws(RedisError) -> UInt64 {
        let value = try integer()
        guard value >= 0 else { throw RedisError(code: .protocol, message: "stream script replied \(value), not a count") }
        return UInt64(value)
    }

    mutating func bytes() throws(RedisError) -> [UInt8] {
        guard let bytes = try next().asBytes() else { throw RedisError(code: .protocol, message: "stream script replied null") }
        return bytes
    }

    mutating func string() throws(RedisError) -> String { String(decoding: try bytes(), as: UTF8.self) }

    /// The rest: `session, subscription` pairs.
    mutating func subscribers() throws(RedisError) -> [Subscriber] {
        var subscribers: [Subscriber] = []
        while !isAtEnd {
            let session = try string(), value = try string()
            if let subscriber = Subscriber(session: session, stored: value) { subscribers.append(subscriber) }
        }
        return subscribers
    }
}
