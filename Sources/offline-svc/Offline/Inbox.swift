import Logging
import Metrics
import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

/// The store-and-forward inbox. Owns `inbox:{user}` (message ids, sorted by id = time) and
/// `inboxmsg:{user}` (id → message). A message leaves the inbox when its recipient acks it, when
/// it is older than the retention, or when the inbox is over its bound (oldest first).
public struct Inbox: Sendable {
    let topics: Topics
    let redis: RedisClient
    let producer: KafkaProducer
    let maxMessages: Int
    let retention: Duration
    let replayBatch: Int
    let logger: Logger

    private let appended = Counter(label: "parley_inbox_appended_total")
    private let removed = Counter(label: "parley_inbox_acked_total")
    private let evicted = Counter(label: "parley_inbox_evicted_total")
    private let replayed = Counter(label: "parley_inbox_replayed_total")
    private let malformed = Counter(label: "parley_malformed_records_total", dimensions: [("service", "offline-svc")])

    public init(topics: Topics, redis: RedisClient, producer: KafkaProducer, maxMessages: Int, retention: Duration,
                replayBatch: Int, logger: Logger) {
        self.topics = topics
        self.redis = redis
        self.producer = producer
        self.maxMessages = maxMessages
        self.retention = retention
        self.replayBatch = replayBatch
        self.logger = logger
    }

    private var retentionSeconds: Int { max(1, Int(retention.components.seconds)) }

    /// Appends a batch of `chat.inbox` records, trims the inboxes it touched, and delivers each
    /// message to the recipient's sessions relay-svc did not reach (a session that came online
    /// while the message was being routed).
    public func append(_ records: [KafkaRecord]) async throws {
        let envelopes = BatchedRecords.decode(InboxEnvelope.self, records, malformed: dropMalformed)
        guard !envelopes.isEmpty else { return }
        var commands: [RedisCommand] = []
        for envelope in envelopes {
            let message = envelope.message
            commands.append(["ZADD", .init(RedisKeys.inbox(message.to)), "0", .init(message.msg)])
            commands.append(["HSET", .init(RedisKeys.inboxMessages(message.to)), .init(message.msg), .init(Envelope.encode(message))])
        }
        let users = Array(Set(envelopes.map(\.message.to)))
        for user in users {
            commands.append(["EXPIRE", .init(RedisKeys.inbox(user)), .init(retentionSeconds)])
            commands.append(["EXPIRE", .init(RedisKeys.inboxMessages(user)), .init(retentionSeconds)])
            commands.append(["ZCARD", .init(RedisKeys.inbox(user))])
            commands.append(UserSessions.command(user))
        }
        let replies = try await redis.pipeline(commands)
        try Self.check(replies)
        appended.increment(by: envelopes.count)

        var presence: [String: UserSessions] = [:]
        var base = envelopes.count * 2
        for user in users {
            let count = replies[base + 2].int ?? 0
            presence[user] = UserSessions(user: user, reply: replies[base + 3])
            try await trim(user, count: Int(count))
            base += 4
        }

        var deliveries = DeliveryBatch()
        for envelope in envelopes {
            let message = envelope.message
            let sessions = presence[message.to]?.sessions ?? [:]
            let missed = sessions.filter { !envelope.delivered.contains($0.key) }
            for (session, edge) in missed.sorted(by: { $0.key < $1.key }) {
                deliveries.add(message: message, edge: edge, user: message.to, sessions: [session])
            }
        }
        if !deliveries.isEmpty { _ = try await producer.send(batch: deliveries.records(topics)) }
    }

    /// Removes acked messages (a batch of `chat.acks` records).
    public func remove(_ records: [KafkaRecord]) async throws {
        var commands: [RedisCommand] = []
        for envelope in BatchedRecords.decode(AckEnvelope.self, records, malformed: dropMalformed) {
            let ids = envelope.acks.map { RedisArgument($0.msg) }
            guard !ids.isEmpty else { continue }
            commands.append(["ZREM", .init(RedisKeys.inbox(envelope.user))] + ids)
            commands.append(["HDEL", .init(RedisKeys.inboxMessages(envelope.user))] + ids)
        }
        guard !commands.isEmpty else { return }
        let replies = try await redis.pipeline(commands)
        try Self.check(replies)
        removed.increment(by: Int(stride(from: 0, to: replies.count, by: 2).reduce(0) { $0 + (replies[$1].int ?? 0) }))
    }

    /// Replays the pending inbox to each session that came online (a batch of `presence.changes`).
    public func replay(_ records: [KafkaRecord]) async throws {
        let changes = records.compactMap { record -> PresenceChange? in
            do {
                return try Envelope.decode(PresenceChange.self, from: record.value)
            } catch {
                dropMalformed(record, error)
                return nil
            }
        }
        for change in changes where change.kind == .sessionOnline {
            try await replay(user: change.user, session: change.session, edge: change.edge)
        }
    }

    /// Sends `user`'s pending messages, oldest first, to one session, in records of `replayBatch`.
    public func replay(user: String, session: String, edge: String) async throws {
        try await dropExpired(user)
        let ids = try await redis.send(["ZRANGE", .init(RedisKeys.inbox(user)), "0", "-1"]).array?.compactMap(\.string) ?? []
        guard !ids.isEmpty else { return }
        var records: [KafkaOutgoingRecord] = []
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(start + replayBatch, ids.count)])
            start += chunk.count
            let reply = try await redis.send(["HMGET", .init(RedisKeys.inboxMessages(user))] + chunk.map { RedisArgument($0) })
            let messages = (reply.array ?? []).compactMap { value -> ChatMessage? in
                guard case .bulk(let bytes) = value else { return nil }
                return try? Envelope.decode(ChatMessage.self, from: bytes)
            }
            guard !messages.isEmpty else { continue }
            var batch = DeliveryBatch()
            for message in messages { batch.add(message: message, edge: edge, user: user, sessions: [session]) }
            records += batch.records(topics)
            replayed.increment(by: messages.count)
        }
        if !records.isEmpty {
            _ = try await producer.send(batch: records)
            logger.debug("replayed inbox", metadata: ["parley.user": "\(user)", "parley.session": "\(session)",
                                                      "parley.messages": "\(ids.count)"])
        }
    }

    /// Keeps at most `maxMessages`, dropping the oldest (counted in parley_inbox_evicted_total).
    private func trim(_ user: String, count: Int) async throws {
        guard count > maxMessages else { return }
        let excess = count - maxMessages
        let oldest = try await redis.send(["ZRANGE", .init(RedisKeys.inbox(user)), "0", .init(excess - 1)]).array?.compactMap(\.string) ?? []
        try await delete(user, ids: oldest)
        evicted.increment(by: oldest.count)
        logger.warning("inbox full, dropped oldest messages", metadata: ["parley.user": "\(user)", "parley.dropped": "\(oldest.count)"])
    }

    /// Drops messages older than the retention.
    private func dropExpired(_ user: String) async throws {
        let cutoffMs = UnixTime.nowMilliseconds - UInt64(retentionSeconds) * 1000
        let bound = "(" + MessageID.lowerBound(unixMilliseconds: cutoffMs)
        let old = try await redis.send(["ZRANGEBYLEX", .init(RedisKeys.inbox(user)), "-", .init(bound)]).array?.compactMap(\.string) ?? []
        try await delete(user, ids: old)
        evicted.increment(by: old.count)
    }

    private func delete(_ user: String, ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        let args = ids.map { RedisArgument($0) }
        try Self.check(try await redis.pipeline([
            ["ZREM", .init(RedisKeys.inbox(user))] + args,
            ["HDEL", .init(RedisKeys.inboxMessages(user))] + args,
        ]))
    }

    private func dropMalformed(_ record: KafkaRecord, _ error: any Error) {
        malformed.increment()
        logger.error("dropping malformed record", metadata: ["parley.topic": "\(record.topic)",
                                                            "parley.offset": "\(record.offset)", "parley.error": "\(error)"])
    }

    private static func check(_ replies: [RESPValue]) throws {
        for reply in replies {
            if case .error(let text) = reply { throw RedisError(code: .server, message: text) }
        }
    }
}
