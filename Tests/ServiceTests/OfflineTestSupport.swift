@testable import Offline
import ParleyBackend
import ParleyProtocol
import ParleyRedis
import Testing

// Helpers of the offline-svc tests: a user's stream driven through the scripts directly (real
// redis-server, no broker), stream entries, and conversation log entries as relay-svc writes them.


/// One user's stream on the shared test redis-server, driven through ``StreamScripts``.
struct StreamFixture: Sendable {
    let redis: RedisClient
    let scripts: StreamScripts
    let user: String

    init(_ name: String = "ursula", policy: StreamPolicy = StreamPolicy()) throws {
        redis = try testRedis()
        scripts = StreamScripts(policy: policy)
        user = uniqueID(name)
    }

    var keys: RedisKeys.StreamKeys { RedisKeys.StreamKeys(user) }

    /// Appends entries to this user's stream, one script each, in one pipeline.
    @discardableResult
    func append(_ entries: [StreamEntry], now: UInt64 = UnixTime.nowMilliseconds) async throws -> [AppendOutcome] {
        var pipeline = RedisPipeline()
        let calls = entries.map { pipeline.add(scripts.append($0, user: user, now: now)) }
        let replies = try await redis.send(pipeline)
        return try calls.map { call throws(RedisError) in try replies[call] }
    }

    @discardableResult
    func append(_ entry: StreamEntry, now: UInt64 = UnixTime.nowMilliseconds) async throws -> AppendOutcome {
        try await append([entry], now: now)[0]
    }

    /// The sync script's reply for a query of this user.
    func sync(after: UInt64? = nil, epoch: String? = nil, device: String = "phone", session: String = "s1", edge: String = "e1",
              subscribe: Bool = false, now: UInt64 = UnixTime.nowMilliseconds) async throws -> SyncOutcome {
        try await redis.send(scripts.sync(query(after: after, epoch: epoch, device: device, session: session, edge: edge,
                                                subscribe: subscribe), now: now))
    }

    func query(after: UInt64? = nil, epoch: String? = nil, device: String = "phone", session: String = "s1", edge: String = "e1",
               subscribe: Bool = false) -> QueryEnvelope {
        QueryEnvelope(kind: .sync, user: user, device: device, session: session, edge: edge, after: after, epoch: epoch,
                      subscribe: subscribe)
    }

    @discardableResult
    func ack(_ seq: UInt64, after: UInt64? = nil, device: String = "phone") async throws -> AckOutcome {
        let move = CursorMove(kind: .ack, user: user, device: device, session: "s1", edge: "e1", seq: seq, after: after)
        return try await redis.send(scripts.ack(move, seq: seq, now: UnixTime.nowMilliseconds))
    }

    func read(_ conv: String, cseq: UInt64) async throws -> ReadOutcome {
        try await redis.send(scripts.read(user: user, conv: conv, cseq: cseq, now: UnixTime.nowMilliseconds))
    }

    func meta() async throws -> [String: String] { try await redis.send(.hgetall(keys.meta)) }
    func devices() async throws -> [String: String] { try await redis.send(.hgetall(keys.devices)) }

    /// The seqs stored in the stream, oldest first.
    func storedSeqs() async throws -> [UInt64] {
        let reply = try await redis.send(.raw(["XRANGE", RedisArgument(keys.stream), "-", "+"], keys: [keys.stream]))
        return try reply.asArray().map { entry throws(RedisError) in
            let id = try entry.asArray()[0].asString() ?? ""
            return UInt64(id.prefix { $0 != "-" }) ?? 0
        }
    }

    /// The bytes of entry JSON stored in the stream (what its meta's `b` counts).
    func storedBytes() async throws -> Int {
        let reply = try await redis.send(.raw(["XRANGE", RedisArgument(keys.stream), "-", "+"], keys: [keys.stream]))
        return try reply.asArray().reduce(0) { total, entry throws(RedisError) in
            let fields = try entry.asArray()[1].asArray()
            return total + (try fields[1].asString()?.utf8.count ?? 0)
        }
    }

    /// Removes every key of this user's stream.
    func clear() async throws {
        _ = try await redis.send(.del([keys.meta, keys.stream, keys.ids, keys.marks, keys.last, keys.conversations, keys.read,
                                       keys.devices, keys.subscriptions]))
        await redis.close()
    }
}

/// A `message` entry of the dm of `from` and `to` at `cseq`.
func messageEntry(from: String, to: String, cseq: UInt64, body: String = "hi", msg: String = MessageID.make(),
                  id: String? = nil) -> StreamEntry {
    StreamEntry.message(ChatMessage(msg: msg, from: from, to: to, conv: Conversation.direct(from, to), cseq: cseq, body: body,
                                    ts: UnixTime.nowMilliseconds, id: id ?? uniqueID("c")))
}

/// The write of `message` (with its cseq) to its conversation's log as relay-svc does it: id `<cseq>-0`, field `m`.
func logWrite(_ message: ChatMessage) -> RedisCommand<RESPValue> {
    let key = RedisKeys.ConversationKeys(message.conv).log
    return .raw(["XADD", RedisArgument(key), RedisArgument("\(message.cseq ?? 0)-0"), "m", RedisArgument(Envelope.encode(message))],
                keys: [key])
}

/// `count` messages of the dm of `from` and `to`, cseq `start`..., also written to the log.
func loggedMessages(from: String, to: String, count: Int, start: UInt64 = 1, redis: RedisClient) async throws -> [StreamEntry] {
    let entries = (0..<UInt64(count)).map { messageEntry(from: from, to: to, cseq: start + $0, body: "m\(start + $0)") }
    var pipeline = RedisPipeline()
    for entry in entries { pipeline.add(logWrite(try #require(entry.chatMessage))) }
    _ = try await redis.send(pipeline)
    return entries
}
