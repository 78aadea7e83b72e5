import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit
import ParleyTestSupport
import Relay

// Helpers of the relay-svc suites: what the edge writes to chat.inbound, what relay writes to
// chat.inbox, and the conversation log it keeps in Redis.

/// Partitions of the shared topics in the service tests (``serviceArguments(prefix:redisURL:redis:)``).
let testTopicPartitions: Int32 = 2

/// Two new user ids whose streams are on different `chat.inbox` partitions, so a test sees
/// entries land on both.
func usersOnTwoPartitions(_ first: String, _ second: String) -> (String, String) {
    let a = uniqueID(first)
    var b = uniqueID(second)
    while StreamPartition.of(b, count: testTopicPartitions) == StreamPartition.of(a, count: testTopicPartitions) { b = uniqueID(second) }
    return (a, b)
}

/// A message in `conv` as the edge sends it (no `cseq`; `to` the dm peer, if any).
func chatMessage(in conv: String, from: String, body: String, id: String? = nil) -> ChatMessage {
    let msg = MessageID.make()
    return ChatMessage(msg: msg, from: from, to: Conversation.peer(in: conv, of: from), conv: conv, body: body,
                       ts: MessageID.unixMilliseconds(of: msg) ?? UnixTime.nowMilliseconds, id: id ?? uniqueID("c"))
}

/// The edge's record of a send (key: conv).
func inbound(_ message: ChatMessage) -> InboundEnvelope {
    InboundEnvelope(message: message, edge: "edge-x", session: "s1", device: "d1")
}

extension ChatMessage {
    /// The message as relay stored it at `cseq`.
    func stored(at cseq: UInt64) -> ChatMessage {
        var stored = self
        stored.cseq = cseq
        return stored
    }
}

/// One `chat.inbox` entry and the partition its record was on.
struct InboxRecordEntry: Sendable {
    let partition: Int32
    let user: String
    let entry: StreamEntry
}

extension TopicReader {
    /// The `chat.inbox` entries read so far, in record order.
    var inboxEntries: [InboxRecordEntry] {
        records.flatMap { record in
            ((try? Envelope.decode(EnvelopeBatch<InboxEntry>.self, from: record.value))?.items ?? []).map {
                InboxRecordEntry(partition: record.partition, user: $0.user, entry: $0.entry)
            }
        }
    }

    /// Waits until `check` finds what it wants among the `chat.inbox` entries.
    func waitForEntries<R: Sendable>(_ what: String, _ check: @escaping @Sendable ([InboxRecordEntry]) -> R?) async throws -> R {
        try await eventually("\(what) on \(topic)") { check(self.inboxEntries) }
    }

    /// Waits until at least `count` entries of `msg`s are there; answers the entries of those `msg`s.
    func waitForEntries(of msgs: [String], count: Int) async throws -> [InboxRecordEntry] {
        let wanted = Set(msgs)
        return try await waitForEntries("\(count) entries of \(msgs.count) messages") { entries in
            let found = entries.filter { $0.entry.msg.map(wanted.contains) ?? false }
            return found.count >= count ? found : nil
        }
    }
}

/// One entry of a conversation log.
struct LoggedMessage: Sendable, Equatable {
    let cseq: UInt64
    let message: ChatMessage
    /// Unix ms when it was stored.
    let storedAt: UInt64
}

/// The conversation log of `conv`, oldest first.
func conversationLog(_ redis: RedisClient, _ conv: String) async throws -> [LoggedMessage] {
    let key = RedisKeys.ConversationKeys(conv).log
    let reply = try await redis.send(.raw(["XRANGE", RedisArgument(key), "-", "+"], keys: [key]))
    return try reply.asArray().map { item in
        let parts = try item.asArray()
        let id = try parts[0].asString() ?? ""
        let fields = try parts[1].asStrings()
        var values: [String: String] = [:]
        for index in stride(from: 0, to: fields.count - 1, by: 2) { values[fields[index]] = fields[index + 1] }
        return LoggedMessage(cseq: UInt64(id.split(separator: "-")[0]) ?? 0,
                             message: try Envelope.decode(ChatMessage.self, from: Array((values["m"] ?? "").utf8)),
                             storedAt: UInt64(values["t"] ?? "") ?? 0)
    }
}

/// The conversation's meta hash (`n` last cseq, `e` epoch).
func conversationMeta(_ redis: RedisClient, _ conv: String) async throws -> [String: String] {
    try await redis.send(.hgetall(RedisKeys.ConversationKeys(conv).meta))
}

/// Runs `body` with a Redis client of the test server, closed afterwards (also on failure).
func withRedis(_ body: (RedisClient) async throws -> Void) async throws {
    let redis = try testRedis()
    do {
        try await body(redis)
    } catch {
        await redis.close()
        throw error
    }
    await redis.close()
}
