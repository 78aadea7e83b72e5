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
        var pipeline = RedisPipeline()
        for envelope in envelopes {
            let message = envelope.message
            pipeline.add(.zadd(RedisKeys.inbox((message.to ?? message.from)), [RedisScoredMember(member: message.msg, score: 0)]))
            pipeline.add(.hset(RedisKeys.inboxMessages((message.to ?? message.from)), field: message.msg, value: Envelope.encode(message)))
        }
        let users = Array(Set(envelopes.map { $0.message.to ?? $0.message.from }))
        var counts: [RedisPipeline.Entry<Int>] = []
        for user in users {
            pipeline.add(.expire(RedisKeys.inbox(user), .seconds(retentionSeconds)))
            pipeline.add(.expire(RedisKeys.inboxMessages(user), .seconds(retentionSeconds)))
            counts.append(pipeline.add(.zcard(RedisKeys.inbox(user))))
        }
        let reads = UserSessionsReads(users, in: &pipeline)
        let replies = try await redis.send(pipeline)
        appended.increment(by: envelopes.count)

        let presence = try reads.sessions(from: replies)
        for (user, count) in zip(users, counts) { try await trim(user, count: try replies[count]) }

        var deliveries = DeliveryBatch()
        for envelope in envelopes {
            let message = envelope.message
            let sessions = presence[(message.to ?? message.from)]?.sessions ?? [:]
            let missed = sessions.filter { !envelope.delivered.contains($0.key) }
            for (session, edge) in missed.sorted(by: { $0.key < $1.key }) {
                deliveries.add(message: message, edge: edge, user: (message.to ?? message.from), sessions: [session])
            }
        }
        if !deliveries.isEmpty { _ = try await producer.send(batch: deliveries.records(topics)) }
    }

    /// Removes acked messages (a batch of `chat.acks` records).
    public func remove(_ records: [KafkaRecord]) async throws {
        var pipeline = RedisPipeline()
        var removals: [RedisPipeline.Entry<Int>] = []
        for envelope in BatchedRecords.decode(AckEnvelope.self, records, malformed: dropMalformed) {
            let ids = envelope.acks.map(\.msg)
            guard !ids.isEmpty else { continue }
            removals.append(delete(envelope.user, ids: ids, in: &pipeline))
        }
        guard !pipeline.isEmpty else { return }
        let replies = try await redis.send(pipeline)
        removed.increment(by: try removals.reduce(0) { total, entry throws(RedisError) in total + (try replies[entry]) })
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

    /// Sends `user`'s pending messages, oldest first, to one session, in records of `replayBatch`,
    /// and drops those older than the retention: two round trips (the ids, then the bodies and the drop).
    public func replay(user: String, session: String, edge: String) async throws {
        let all = try await redis.send(.zrange(RedisKeys.inbox(user), 0, -1))
        // Members of one score come back in byte order, which is time order for ids: the ones
        // below the retention's bound are a prefix.
        let bound = MessageID.lowerBound(unixMilliseconds: UnixTime.nowMilliseconds - UInt64(retentionSeconds) * 1000)
        let expired = all.prefix { $0.utf8.lexicographicallyPrecedes(bound.utf8) }
        let ids = Array(all.dropFirst(expired.count))
        var pipeline = RedisPipeline()
        if !expired.isEmpty { delete(user, ids: Array(expired), in: &pipeline) }
        var chunks: [RedisPipeline.Entry<[[UInt8]?]>] = []
        for start in stride(from: 0, to: ids.count, by: replayBatch) {
            chunks.append(pipeline.add(.hmget(RedisKeys.inboxMessages(user), Array(ids[start..<min(start + replayBatch, ids.count)]))))
        }
        guard !pipeline.isEmpty else { return }
        let replies = try await redis.send(pipeline)
        evicted.increment(by: expired.count)

        var records: [KafkaOutgoingRecord] = []
        for chunk in chunks {
            let messages = try replies[chunk].compactMap { value -> ChatMessage? in
                guard let bytes = value else { return nil }
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
        let oldest = try await redis.send(.zrange(RedisKeys.inbox(user), 0, excess - 1))
        guard !oldest.isEmpty else { return }
        var pipeline = RedisPipeline()
        delete(user, ids: oldest, in: &pipeline)
        _ = try await redis.send(pipeline)
        evicted.increment(by: oldest.count)
        logger.warning("inbox full, dropped oldest messages", metadata: ["parley.user": "\(user)", "parley.dropped": "\(oldest.count)"])
    }

    /// Adds the removal of `ids` from `user`'s inbox to `pipeline`; the entry counts the ids removed.
    @discardableResult
    private func delete(_ user: String, ids: [String], in pipeline: inout RedisPipeline) -> RedisPipeline.Entry<Int> {
        let removed = pipeline.add(.zrem(RedisKeys.inbox(user), ids))
        pipeline.add(.hdel(RedisKeys.inboxMessages(user), ids))
        return removed
    }

    private func dropMalformed(_ record: KafkaRecord, _ error: any Error) {
        malformed.increment()
        logger.error("dropping malformed record", metadata: ["parley.topic": "\(record.topic)",
                                                            "parley.offset": "\(record.offset)", "parley.error": "\(error)"])
    }
}
