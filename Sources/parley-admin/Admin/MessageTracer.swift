import Logging
import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

/// Finds a message's ``MessageTrace`` from Kafka (`chat.inbound`) and Redis (the conversation's
/// keys, each member's stream keys), with the services' own keys and typed reads.
public struct MessageTracer: Sendable {
    let configuration: AdminConfiguration
    let logger: Logger

    public init(configuration: AdminConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Where `msg` is now.
    public func trace(_ msg: String) async throws -> MessageTrace {
        let topic = configuration.topics.inbound
        let found = try await InboundSearch(kafka: configuration.kafka, topic: topic, logger: logger).find(msg)
        guard let found, let message = found.envelope.message else {
            return MessageTrace(msg: msg, topic: topic, inbound: nil, cseq: nil, members: [])
        }
        let inbound = MessageTrace.Inbound(partition: found.record.partition, offset: found.record.offset, message: message,
                                           device: found.envelope.device,
                                           traced: found.record.headers.first(named: ParleyTracing.headerName) != nil)
        let redis = RedisClient(configuration: configuration.redis, logger: logger)
        do {
            let trace = try await place(inbound, topic: topic, redis: redis)
            await redis.close()
            return trace
        } catch {
            await redis.close()
            throw AdminError(.redis, "cannot read \(configuration.redis)", underlying: error)
        }
    }

    private func place(_ inbound: MessageTrace.Inbound, topic: String, redis: RedisClient) async throws -> MessageTrace {
        let message = inbound.message
        guard let cseq = try await cseq(of: message, redis: redis) else {
            return MessageTrace(msg: message.msg, topic: topic, inbound: inbound, cseq: nil, members: [])
        }
        let users: [String]
        if let pair = Conversation.directMembers(message.conv) {
            users = [pair.0, pair.1]
        } else {
            users = try await redis.send(GroupCommands.members(at: cseq, of: message.conv))
        }
        var members: [MessageTrace.Member] = []
        for user in users { members.append(try await member(user, conv: message.conv, cseq: cseq, redis: redis)) }
        return MessageTrace(msg: message.msg, topic: topic, inbound: inbound, cseq: cseq, members: members)
    }

    /// The `cseq` relay-svc gave the message: from its dedup key while that lives, else by
    /// reading the conversation log newest first.
    private func cseq(of message: ChatMessage, redis: RedisClient) async throws -> UInt64? {
        let keys = RedisKeys.ConversationKeys(message.conv)
        if let id = message.id, let stored = try await redis.send(.get(keys.dedup(from: message.from, clientID: id))) {
            let parts = stored.split(separator: " ")
            if parts.count == 2, parts[1] == message.msg, let cseq = UInt64(parts[0]) { return cseq }
        }
        var end = RedisStreamBound.maximum
        while true {
            let page = try await redis.send(.xrevrange(keys.log, from: end, to: .minimum, count: 500))
            for entry in page where (try? ConversationLogReads.message(in: entry))?.msg == message.msg {
                return entry.id.milliseconds
            }
            guard page.count == 500, let last = page.last else { return nil }
            end = .exclusive(last.id)
        }
    }

    /// `user`'s stream entry of (conv, cseq) and its devices' cursors.
    private func member(_ user: String, conv: String, cseq: UInt64, redis: RedisClient) async throws -> MessageTrace.Member {
        let keys = RedisKeys.StreamKeys(user)
        let (seq, meta, devices, subscribed) = try await redis.pipeline(
            .hget(keys.ids, RedisKeys.StreamKeys.messageID(conv: conv, cseq: cseq)), .hgetall(keys.meta),
            .hgetall(keys.devices), .hlen(keys.subscriptions))
        let entrySeq = seq.flatMap { UInt64($0) }
        let cursors = devices.compactMapValues { UInt64($0) }
        let acked = entrySeq.map { seq in cursors.filter { $0.value >= seq }.keys.sorted() } ?? []
        let pending = entrySeq.map { seq in cursors.filter { $0.value < seq }.keys.sorted() } ?? cursors.keys.sorted()
        return MessageTrace.Member(user: user, seq: entrySeq, epoch: meta["e"], head: meta["h"].flatMap { UInt64($0) },
                                   acked: acked, pending: pending, subscribed: subscribed)
    }
}
