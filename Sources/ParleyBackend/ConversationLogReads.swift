import ParleyProtocol
import ParleyRedis

/// Reads messages from the conversation logs relay-svc writes (`conv:{conv}:log`, entry id
/// `<cseq>-0`, field `m` = the ChatMessage JSON). Stream entries are stored without bodies;
/// whoever sends one to a client takes the body from here (offline-svc), or shows where a message
/// is (parley-admin).
public enum ConversationLogReads {
    /// A log entry that holds no readable message.
    public struct MalformedEntry: Error, CustomStringConvertible {
        public let description: String
    }

    /// The entry at `cseq` of `conv`'s log; nil when it is past the log's retention.
    public static func entry(conv: String, cseq: UInt64) -> RedisCommand<RedisStreamEntry?> {
        let id = RedisStreamID(cseq)
        return RedisCommand.xrange(RedisKeys.ConversationKeys(conv).log, from: .inclusive(id), to: .inclusive(id)).map { $0.first }
    }

    /// The message a log entry holds (field `m`; its `cseq` is the entry id's).
    public static func message(in entry: RedisStreamEntry) throws -> ChatMessage {
        guard let stored = entry.fields["m"] else { throw MalformedEntry(description: "no field m") }
        var message = try Envelope.decode(ChatMessage.self, from: stored)
        message.cseq = entry.id.milliseconds
        return message
    }

    /// The message at `cseq` of `conv`'s log; nil when it is past the log's retention (or unreadable).
    public static func message(conv: String, cseq: UInt64) -> RedisCommand<ChatMessage?> {
        entry(conv: conv, cseq: cseq).map { entry in entry.flatMap { try? message(in: $0) } }
    }

    /// The messages at each (conv, cseq) of `wanted`, in one round trip; missing ones are absent.
    public static func messages(_ wanted: some Sequence<MessageKey>, redis: RedisClient) async throws -> [MessageKey: ChatMessage] {
        var pipeline = RedisPipeline()
        let reads = Set(wanted).map { key in (key, pipeline.add(message(conv: key.conv, cseq: key.cseq))) }
        let replies = try await redis.send(pipeline)
        var found: [MessageKey: ChatMessage] = [:]
        for (key, read) in reads { found[key] = try replies[read] }
        return found
    }
}

/// A message's place: its conversation and `cseq`.
public struct MessageKey: Sendable, Hashable {
    public var conv: String
    public var cseq: UInt64

    public init(conv: String, cseq: UInt64) {
        self.conv = conv
        self.cseq = cseq
    }
}
