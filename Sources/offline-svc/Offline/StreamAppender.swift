import Logging
import Metrics
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// Appends `chat.inbox` entries to user streams and delivers each to the sessions subscribed
/// at that moment.
///
/// Per batch: one append script per entry, all in one pipeline in record order (each script
/// is the atomic step on its user's slot: meta check, re-find by logical id or watermark, or
/// append at head + 1, and read `subs`); then one deliver record per edge. A replayed record
/// re-finds its seq and is delivered again (edges drop what they have); an entry under its
/// watermark is delivered nothing. ``ConsumerLoop`` commits after the deliveries' acks.
struct StreamAppender: Sendable {
    let scripts: StreamScripts
    let redis: RedisClient
    let producer: KafkaProducer
    let topics: Topics
    let malformed: MalformedRecords
    let logger: Logger

    private let appended = Counter(label: "parley_stream_appended_total")
    private let duplicates = Counter(label: "parley_stream_duplicates_total")

    init(scripts: StreamScripts, redis: RedisClient, producer: KafkaProducer, topics: Topics, malformed: MalformedRecords, logger: Logger) {
        self.scripts = scripts
        self.redis = redis
        self.producer = producer
        self.topics = topics
        self.malformed = malformed
        self.logger = logger
    }

    /// Handles a batch of `chat.inbox` records.
    func append(_ records: [KafkaRecord]) async throws {
        let items = malformed.decode(InboxEntry.self, records).filter { item in
            guard let problem = Self.problem(item) else { return true }
            malformed.drop(item, problem, topic: topics.inbox)
            return false
        }
        guard !items.isEmpty else { return }
        let deliveries = try await append(items)
        if !deliveries.isEmpty { _ = try await producer.send(batch: deliveries.records(topics)) }
    }

    /// Appends `items` in order and returns their live deliveries.
    func append(_ items: [InboxEntry]) async throws -> EdgeDeliveries {
        var pipeline = RedisPipeline()
        let now = UnixTime.nowMilliseconds
        let calls = items.map { pipeline.add(scripts.append($0.entry, user: $0.user, now: now)) }
        // Durable: a seq a device sees must survive a Redis failover (WAIT in cluster mode).
        let replies = try await redis.sendDurably(pipeline)
        var deliveries = EdgeDeliveries()
        for (item, call) in zip(items, calls) {
            let outcome = try replies[call]
            if outcome.duplicate { duplicates.increment() } else { appended.increment() }
            guard outcome.seq > 0 else { continue }
            var entry = item.entry
            entry.seq = outcome.seq
            logger.debug("appended", metadata: ["parley.msg": "\(entry.msg ?? "")", "parley.conv": "\(entry.conv)",
                                                "parley.seq": "\(entry.seq)", "parley.user": "\(item.user)"])
            deliveries.add(entry, user: item.user, epoch: outcome.epoch, to: outcome.subscribers)
        }
        return deliveries
    }

    /// What makes an entry unusable (nil: it is fine): the fields its logical id or watermark needs.
    static func problem(_ item: InboxEntry) -> String? {
        let entry = item.entry
        guard Identifier.isValid(item.user) else { return "user is not an identifier" }
        guard Conversation.isValid(entry.conv) else { return "conv is not a conversation id" }
        switch entry.kind {
        case .message: return entry.msg != nil && entry.from != nil && entry.cseq > 0 ? nil : "a message needs msg, from and cseq"
        case .receipt: return entry.by != nil && entry.status != nil && entry.cseq > 0 ? nil : "a receipt needs by, status and cseq"
        case .read: return entry.cseq > 0 ? nil : "a read needs cseq"
        case .rejected: return entry.msg != nil ? nil : "a rejection needs msg"
        case .group: return entry.msg != nil && entry.event != nil && entry.cseq > 0 ? nil : "a group entry needs msg, event and cseq"
        }
    }
}
