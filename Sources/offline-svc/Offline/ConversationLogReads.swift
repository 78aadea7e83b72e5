import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// Reads messages from the conversation logs relay-svc writes (`conv:{conv}:log`, entry id
/// `<cseq>-0`, field `m` = the ChatMessage JSON). Stream entries are stored without bodies;
/// whoever sends one to a client takes the body from here.
enum ConversationLogReads {
    /// The message at `cseq` of `conv`'s log; nil when it is past the log's retention (or unreadable).
    static func message(conv: String, cseq: UInt64) -> RedisCommand<ChatMessage?> {
        let key = RedisKeys.ConversationKeys(conv).log
        let id = RedisArgument("\(cseq)-0")
        return RedisCommand(["XRANGE", RedisArgument(key), id, id], keys: [key]) { reply throws(RedisError) in
            guard let entry = try reply.asArray().first else { return nil }
            let fields = try entry.asArray().dropFirst().first?.asArray() ?? []
            for index in stride(from: 0, to: fields.count - 1, by: 2) where try fields[index].asString() == "m" {
                guard let bytes = try fields[index + 1].asBytes() else { return nil }
                return try? Envelope.decode(ChatMessage.self, from: bytes)
            }
            return nil
        }
    }

    /// The messages at each (conv, cseq) of `wanted`, in one round trip; missing ones are absent.
    static func messages(_ wanted: some Sequence<MessageKey>, redis: RedisClient) async throws -> [MessageKey: ChatMessage] {
        var pipeline = RedisPipeline()
        let reads = Set(wanted).map { key in (key, pipeline.add(message(conv: key.conv, cseq: key.cseq))) }
        let replies = try await redis.send(pipeline)
        var found: [MessageKey: ChatMessage] = [:]
        for (key, read) in reads { found[key] = try replies[read] }
        return found
    }
}

/// A message's place: its conversation and `cseq`.
struct MessageKey: Sendable, Hashable {
    var conv: String
    var cseq: UInt64
}
