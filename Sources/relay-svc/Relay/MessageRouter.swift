import Logging
import Metrics
import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

/// Routes batches of `chat.inbound` and `chat.acks` records. Per batch: one Redis pipeline
/// (dedup + presence), then the outputs (one batched `chat.inbox` record, one batched record per
/// edge) produced in order and awaited, so the caller commits the batch only after all outputs
/// are acknowledged.
public struct MessageRouter: Sendable {
    let topics: Topics
    let redis: RedisClient
    let producer: KafkaProducer
    let dedupTTL: Duration
    let logger: Logger

    private let routed = Counter(label: "parley_messages_routed_total")
    private let duplicates = Counter(label: "parley_messages_duplicate_total")
    private let receiptsOut = Counter(label: "parley_receipts_total")
    private let malformed = Counter(label: "parley_malformed_records_total", dimensions: [("service", "relay-svc")])

    public init(topics: Topics, redis: RedisClient, producer: KafkaProducer, dedupTTL: Duration, logger: Logger) {
        self.topics = topics
        self.redis = redis
        self.producer = producer
        self.dedupTTL = dedupTTL
        self.logger = logger
    }

    /// Routes a batch of `chat.inbound` records.
    public func routeInbound(_ records: [KafkaRecord]) async throws {
        let envelopes = records.compactMap { record -> InboundEnvelope? in
            do {
                return try Envelope.decode(InboundEnvelope.self, from: record.value)
            } catch {
                malformed.increment()
                logger.error("dropping malformed inbound record", metadata: [
                    "parley.partition": "\(record.partition)", "parley.offset": "\(record.offset)", "parley.error": "\(error)",
                ])
                return nil
            }
        }
        guard !envelopes.isEmpty else { return }

        // One round trip: SET NX GET answers "new" (nil) or the msg id a retry was given first.
        var pipeline = RedisPipeline()
        var firsts: [RedisPipeline.Entry<String?>] = []
        for envelope in envelopes {
            let message = envelope.message
            firsts.append(pipeline.add(.setIfAbsent(RedisKeys.dedup(message.from, clientID: message.id ?? message.msg),
                                                    message.msg, expire: dedupTTL)))
        }
        let reads = UserSessionsReads(envelopes.flatMap { [$0.message.to ?? $0.message.from, $0.message.from] }, in: &pipeline)
        let replies = try await redis.send(pipeline)
        let presence = try reads.sessions(from: replies)

        var inbox: [InboxEnvelope] = []
        var deliveries = DeliveryBatch()
        for (envelope, entry) in zip(envelopes, firsts) {
            let message = envelope.message
            if let first = try replies[entry], first != message.msg {
                duplicates.increment()
                logger.debug("dropping client retry", metadata: ["parley.msg": "\(message.msg)", "parley.first": "\(first)"])
                continue
            }
            let to = message.to ?? message.from
            let recipient = presence[to] ?? UserSessions(user: to, sessions: [:])
            for edge in recipient.edges() {
                deliveries.add(message: message, edge: edge, user: to)
            }
            // The sender's other sessions get a copy (not durable: the sender has it).
            if message.from != message.to, let sender = presence[message.from] {
                for edge in sender.edges(excludingSession: envelope.session) {
                    deliveries.add(message: message, edge: edge, user: message.from, except: envelope.session)
                }
            }
            inbox.append(InboxEnvelope(message: message, delivered: Array(recipient.sessions.keys).sorted()))
            routed.increment()
        }
        let outputs = BatchedRecords.make(inbox, topic: topics.inbox) + deliveries.records(topics)
        guard !outputs.isEmpty else { return }
        _ = try await producer.send(batch: outputs)
    }

    /// Turns a batch of `chat.acks` records into receipts for the senders' sessions.
    public func routeAcks(_ records: [KafkaRecord]) async throws {
        var receipts: [(sender: String, receipt: AckedMessageReceipt)] = []
        let envelopes = BatchedRecords.decode(AckEnvelope.self, records) { record, _ in
            malformed.increment()
            logger.error("dropping malformed ack record", metadata: ["parley.offset": "\(record.offset)"])
        }
        for envelope in envelopes {
            for ack in envelope.acks {
                guard let sender = ack.from, sender != envelope.user else { continue }
                receipts.append((sender, AckedMessageReceipt(msg: ack.msg, by: envelope.user, id: ack.id)))
            }
        }
        guard !receipts.isEmpty else { return }
        var pipeline = RedisPipeline()
        let reads = UserSessionsReads(receipts.map(\.sender), in: &pipeline)
        let presence = try reads.sessions(from: try await redis.send(pipeline))
        var deliveries = DeliveryBatch()
        for (sender, receipt) in receipts {
            for edge in presence[sender]?.edges() ?? [] {
                deliveries.add(receipt: receipt, edge: edge, user: sender)
            }
        }
        guard !deliveries.isEmpty else { return }
        let records = deliveries.records(topics)
        _ = try await producer.send(batch: records)
        receiptsOut.increment(by: records.count)
    }
}
