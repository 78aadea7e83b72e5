import Logging
import Metrics
import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// Routes batches of `chat.inbound` records. Per batch: one Redis pipeline with one
/// ``ConversationStep`` per conversation (its messages in order), then one `chat.inbox` entry
/// per member of each stored message (the sender included) or a `rejected` entry for the
/// sender of a refused one, produced and awaited, so the caller commits the batch only after
/// all outputs are acknowledged. A record handled again (a replay, a client retry) finds its
/// first `cseq` and is emitted again with it: offline-svc's stream append is idempotent.
public struct MessageRouter: Sendable {
    let topics: Topics
    let redis: RedisClient
    let producer: KafkaProducer
    let dedupTTL: Duration
    let retention: ConversationRetention
    let inboxPartitions: Int32
    let logger: Logger

    private let metrics: any MetricsFactory
    private let routed: Counter
    private let duplicates: Counter
    private let malformed: Counter

    /// A router that writes `chat.inbox` entries to `inboxPartitions` partitions (the topic's
    /// partition count: every producer of `chat.inbox` must use the same); `metrics` makes its
    /// metrics (tests pass their own).
    public init(topics: Topics, redis: RedisClient, producer: KafkaProducer, dedupTTL: Duration, retention: ConversationRetention,
                inboxPartitions: Int32, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.topics = topics
        self.redis = redis
        self.producer = producer
        self.dedupTTL = dedupTTL
        self.retention = retention
        self.inboxPartitions = inboxPartitions
        self.logger = logger
        self.metrics = metrics
        routed = Counter(label: "parley_messages_routed_total", factory: metrics)
        duplicates = Counter(label: "parley_messages_duplicate_total", factory: metrics)
        malformed = Counter(label: "parley_malformed_records_total", dimensions: [("service", "relay-svc")], factory: metrics)
    }

    /// Routes a batch of `chat.inbound` records.
    public func routeInbound(_ records: [KafkaRecord]) async throws {
        let messages = records.compactMap(message(of:))
        guard !messages.isEmpty else { return }
        let outcomes = try await store(messages)

        var inbox = InboxFanOut(inbox: InboxRecords(topic: topics.inbox, partitions: inboxPartitions))
        for (message, outcome) in zip(messages, outcomes) {
            switch outcome {
            case .stored(let cseq):
                var stored = message
                stored.cseq = cseq
                inbox.add(message: stored)
                routed.increment()
            case .duplicate(let cseq, let msg, let logged):
                inbox.add(message: Self.first(of: message, cseq: cseq, msg: msg, logged: logged))
                duplicates.increment()
                logger.debug("client retry or replay", metadata: ["parley.msg": "\(message.msg)", "parley.first": "\(msg)"])
            case .refused(let code):
                inbox.add(rejected: message, code: code)
                Counter(label: "parley_messages_rejected_total", dimensions: [("code", code.rawValue)], factory: metrics).increment()
                logger.debug("refused a message", metadata: [
                    "parley.msg": "\(message.msg)", "parley.conv": "\(message.conv)", "parley.user": "\(message.from)",
                    "parley.code": "\(code.rawValue)",
                ])
            }
        }
        _ = try await producer.send(batch: inbox.records())
    }

    /// Runs one ``ConversationStep`` per conversation of `messages` (its messages in input
    /// order), all in one pipeline; answers the outcomes in input order.
    private func store(_ messages: [ChatMessage]) async throws -> [ConversationOutcome] {
        var groups: [(conv: String, indices: [Int])] = []
        var groupOf: [String: Int] = [:]
        for (index, message) in messages.enumerated() {
            if let group = groupOf[message.conv] {
                groups[group].indices.append(index)
            } else {
                groupOf[message.conv] = groups.count
                groups.append((message.conv, [index]))
            }
        }
        var pipeline = RedisPipeline()
        let now = UnixTime.nowMilliseconds
        let calls = groups.map { group in
            pipeline.add(ConversationStep.call(conv: group.conv, messages: group.indices.map { messages[$0] }, epoch: StorageEpoch.make(),
                                               now: now, dedupTTL: dedupTTL, retention: retention))
        }
        let replies = try await redis.send(pipeline)
        // Every index is in exactly one group, so each placeholder is overwritten below.
        var outcomes = [ConversationOutcome](repeating: .refused(.unavailable), count: messages.count)
        for (group, call) in zip(groups, calls) {
            let results = try replies[call]
            guard results.count == group.indices.count else {
                throw RedisError(code: .protocol, message: "the conversation step answered \(results.count) outcomes for \(group.indices.count) messages")
            }
            for (index, outcome) in zip(group.indices, results) { outcomes[index] = outcome }
        }
        return outcomes
    }

    /// The message of a well-formed record, its `to` set to the sender's dm peer; nil (logged
    /// and counted) for anything else.
    private func message(of record: KafkaRecord) -> ChatMessage? {
        let problem: String
        do {
            let envelope = try Envelope.decode(InboundEnvelope.self, from: record.value)
            if var message = envelope.message, envelope.group == nil, Conversation.isValid(message.conv), Identifier.isValid(message.from),
               !message.msg.isEmpty {
                message.to = Conversation.peer(in: message.conv, of: message.from)
                return message
            }
            problem = "not one message with a well-formed conv, from and msg"
        } catch {
            problem = "\(error)"
        }
        malformed.increment()
        logger.error("dropping malformed inbound record", metadata: [
            "parley.partition": "\(record.partition)", "parley.offset": "\(record.offset)", "parley.error": "\(problem)",
        ])
        return nil
    }

    /// The message a duplicate stands for: as the log holds it, or (past retention) this
    /// record's message with the first `cseq` and `msg`.
    private static func first(of message: ChatMessage, cseq: UInt64, msg: String, logged: [UInt8]?) -> ChatMessage {
        if let logged, let stored = try? Envelope.decode(ChatMessage.self, from: logged), stored.msg == msg, stored.cseq == cseq {
            return stored
        }
        var first = message
        first.msg = msg
        first.cseq = cseq
        return first
    }
}
