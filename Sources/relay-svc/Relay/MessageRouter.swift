import Logging
import Metrics
import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

/// Routes batches of `chat.inbound` records (messages, group changes, blocks). Per batch: the
/// send quotas and the blocks of added users (``Admission``), the group counts of the users
/// creates and adds would add (one pipeline, only when there are such changes), one Redis
/// pipeline with one ``ConversationStep`` per conversation (its operations in record order),
/// the groups' member sets, then one `chat.inbox` entry per member at each entry's `cseq` (the
/// sender included) or a `rejected` entry for the requester of a refused operation, and an
/// `unwatch` to the edges of both users of each block, produced and awaited, so the caller
/// commits the batch only after all outputs are acknowledged. A record handled again (a replay,
/// a client retry) finds its first `cseq` and is emitted again with it, to the members of that
/// `cseq`: offline-svc's stream append is idempotent.
public struct MessageRouter: Sendable {
    let topics: Topics
    let redis: RedisClient
    let producer: KafkaProducer
    let dedupTTL: Duration
    let retention: ConversationRetention
    let groupLimits: GroupLimits
    let admissionLimits: AdmissionLimits
    let inboxPartitions: Int32
    let logger: Logger

    private let groupIndex: GroupIndex
    private let admission: Admission
    private let metrics: any MetricsFactory
    private let routed: Counter
    private let duplicates: Counter
    private let malformed: DroppedRecords

    /// A router that writes `chat.inbox` entries to `inboxPartitions` partitions (the topic's
    /// partition count: every producer of `chat.inbox` must use the same); `admissionLimits`:
    /// the message request limit and the send quotas; `metrics` makes its metrics (tests pass
    /// their own).
    public init(topics: Topics, redis: RedisClient, producer: KafkaProducer, dedupTTL: Duration, retention: ConversationRetention,
                groupLimits: GroupLimits, admissionLimits: AdmissionLimits = .none, inboxPartitions: Int32, logger: Logger,
                metrics: any MetricsFactory = MetricsSystem.factory) {
        self.topics = topics
        self.redis = redis
        self.producer = producer
        self.dedupTTL = dedupTTL
        self.retention = retention
        self.groupLimits = groupLimits
        self.admissionLimits = admissionLimits
        self.inboxPartitions = inboxPartitions
        self.logger = logger
        self.metrics = metrics
        groupIndex = GroupIndex(redis: redis, maxGroupsPerUser: groupLimits.maxGroupsPerUser)
        admission = Admission(redis: redis, quotas: admissionLimits.quotas)
        routed = Counter(label: "parley_messages_routed_total", factory: metrics)
        duplicates = Counter(label: "parley_messages_duplicate_total", factory: metrics)
        malformed = DroppedRecords(service: "relay-svc", logger: logger, metrics: metrics)
    }

    /// Routes a batch of `chat.inbound` records.
    public func routeInbound(_ records: [KafkaRecord]) async throws {
        let operations = records.compactMap(operation(of:))
        guard !operations.isEmpty else { return }
        let now = UnixTime.nowMilliseconds
        let verdict = try await admission.check(operations, now: now)
        let limited = try await groupIndex.atLimit(Set(operations.flatMap(\.joining)))
        let steps = try await store(operations, now: now, verdict: verdict, limited: limited)

        var inbox = InboxFanOut(inbox: InboxRecords(topic: topics.inbox, partitions: inboxPartitions))
        var memberships: [GroupMembership] = []
        var blocks: [BlockOperation] = []
        for (operation, step) in zip(operations, steps) {
            switch (operation, step.outcome) {
            case (.message(let message), .stored(let cseq)):
                var stored = message
                stored.cseq = cseq
                inbox.add(message: stored, roster: step.roster)
                routed.increment()
                logger.debug("routed", metadata: ["parley.msg": "\(message.msg)", "parley.conv": "\(message.conv)", "parley.cseq": "\(cseq)"])
            case (.message(let message), .duplicate(let cseq, let msg, let logged)):
                inbox.add(message: Self.first(of: message, cseq: cseq, msg: msg, logged: logged), roster: step.roster)
                duplicates.increment()
                logger.debug("client retry or replay", metadata: ["parley.msg": "\(message.msg)", "parley.first": "\(msg)"])
            case (.group(let change), .changed(let cseq, let op, let admin, let again)):
                guard let roster = step.roster else {
                    throw RedisError(code: .protocol, message: "a group change without the group's members")
                }
                inbox.add(change: change, cseq: cseq, op: op, admin: admin, roster: roster, title: step.title)
                memberships += roster.changed(by: change, at: cseq).map {
                    GroupMembership(conv: change.conv, user: $0, isMember: roster.isMember($0))
                }
                count(change, again ? "again" : "changed")
            case (.block(let block), .applied):
                if block.blocks { blocks.append(block) }
                Counter(label: "parley_blocks_total", dimensions: [("action", block.blocks ? "block" : "unblock")], factory: metrics)
                    .increment()
            case (_, .refused(let code, let cause)):
                inbox.add(rejected: operation, code: code, reason: reason(operation, cause))
                refused(operation, code: code)
            default:
                throw RedisError(code: .protocol, message: "the conversation step answered \(step.outcome) for \(operation)")
            }
        }
        try await groupIndex.update(memberships)
        let unwatches = try await endWatches(blocks)
        _ = try await producer.send(batch: inbox.records() + unwatches.records(topics))
    }

    /// Ends the watches between the users of each block, both ways, on the edges that hold their
    /// sessions now (a watch presence-svc allowed before the block would otherwise last until
    /// the session's next `watch`). A session that connects later asks presence-svc, which reads
    /// the block. Handled again with its batch after a crash: the edges drop watches already gone.
    private func endWatches(_ blocks: [BlockOperation]) async throws -> EdgeDeliveries {
        var deliveries = EdgeDeliveries()
        guard !blocks.isEmpty else { return deliveries }
        let edges = try await SessionEdges.of(Set(blocks.flatMap { [$0.by, $0.user] }), on: redis)
        for block in blocks {
            for (user, other) in [(block.by, block.user), (block.user, block.by)] {
                for edge in edges[user] ?? [] { deliveries.add(DeliverEnvelope(user: user, unwatch: [other]), edge: edge) }
            }
        }
        return deliveries
    }

    /// An operation's outcome and, for a group, the conversation's members and title after its step.
    private struct Step {
        let outcome: ConversationOutcome
        let roster: GroupRoster?
        let title: String?
    }

    /// Runs one ``ConversationStep`` per conversation of `operations` (its operations in input
    /// order, but those `verdict` refused already), all in one pipeline; answers the outcomes in
    /// input order.
    private func store(_ operations: [ConversationOperation], now: UInt64, verdict: Admission.Verdict,
                       limited: Set<String>) async throws -> [Step] {
        var steps = operations.indices.map { index in
            // A placeholder for what a step answers below.
            Step(outcome: verdict.refused[index] ?? .refused(.unavailable), roster: nil, title: nil)
        }
        var groups: [(conv: String, indices: [Int])] = []
        var groupOf: [String: Int] = [:]
        for (index, operation) in operations.enumerated() where verdict.refused[index] == nil {
            if let group = groupOf[operation.conv] {
                groups[group].indices.append(index)
            } else {
                groupOf[operation.conv] = groups.count
                groups.append((operation.conv, [index]))
            }
        }
        guard !groups.isEmpty else { return steps }
        var pipeline = RedisPipeline()
        let calls = groups.map { group in
            let mine = group.indices.map { operations[$0] }
            let adders = Set(mine.compactMap(\.adding?.by))
            let blockers = verdict.blockers.filter { adders.contains($0.by) }.sorted { ($0.by, $0.user) < ($1.by, $1.user) }
            return pipeline.add(ConversationStep.call(conv: group.conv, operations: mine, epoch: StorageEpoch.make(), now: now,
                                                      dedupTTL: dedupTTL, retention: retention, maxGroupMembers: groupLimits.maxMembers,
                                                      requestLimit: admissionLimits.messageRequestLimit,
                                                      limited: Set(mine.flatMap(\.joining)).intersection(limited).sorted(),
                                                      blockers: blockers))
        }
        // Durable: the cseqs a produced batch names must survive a Redis failover (WAIT in cluster mode).
        let replies = try await redis.sendDurably(pipeline)
        // Every index not refused is in exactly one group, so each placeholder is overwritten below.
        for (group, call) in zip(groups, calls) {
            let reply = try replies[call]
            guard reply.outcomes.count == group.indices.count else {
                let answered = "\(reply.outcomes.count) outcomes for \(group.indices.count) operations"
                throw RedisError(code: .protocol, message: "the conversation step answered \(answered)")
            }
            for (index, outcome) in zip(group.indices, reply.outcomes) {
                steps[index] = Step(outcome: outcome, roster: reply.roster, title: reply.title)
            }
        }
        return steps
    }

    /// The operation of a well-formed record; nil (logged and counted) for anything else.
    private func operation(of record: KafkaRecord) -> ConversationOperation? {
        do {
            return try ConversationOperation.of(Envelope.decode(InboundEnvelope.self, from: record.value))
        } catch {
            malformed.drop(record, error)
            return nil
        }
    }

    private func count(_ change: GroupOperation, _ result: String) {
        Counter(label: "parley_group_changes_total", dimensions: [("action", change.action.rawValue), ("result", result)],
                factory: metrics).increment()
    }

    private func refused(_ operation: ConversationOperation, code: ErrorCode) {
        switch operation {
        case .message(let message):
            Counter(label: "parley_messages_rejected_total", dimensions: [("code", code.rawValue)], factory: metrics).increment()
            logger.debug("refused a message", metadata: [
                "parley.msg": "\(message.msg)", "parley.conv": "\(message.conv)", "parley.user": "\(message.from)",
                "parley.code": "\(code.rawValue)",
            ])
        case .block:
            break
        case .group(let change):
            count(change, code.rawValue)
            logger.debug("refused a group change", metadata: [
                "parley.op": "\(change.op)", "parley.conv": "\(change.conv)", "parley.user": "\(change.by)",
                "parley.action": "\(change.action.rawValue)", "parley.code": "\(code.rawValue)",
            ])
        }
    }

    /// The words of a `rejected` entry for a refusal with a cause.
    private func reason(_ operation: ConversationOperation, _ cause: RefusalCause?) -> String? {
        switch (cause, operation) {
        case (nil, _):
            return nil
        case (.blockedByPeer?, .group):
            return "a user you add has blocked you"
        case (.blockedByPeer?, _):
            return "\(Conversation.peer(in: operation.conv, of: operation.origin.user) ?? "the other user") has blocked you"
        case (.blockingPeer?, _):
            return "you blocked \(Conversation.peer(in: operation.conv, of: operation.origin.user) ?? "the other user"): unblock to send"
        case (.messageRequest?, _):
            let peer = Conversation.peer(in: operation.conv, of: operation.origin.user) ?? "the other user"
            return "message request limit: at most \(admissionLimits.messageRequestLimit) messages until \(peer) replies"
        case (.sendQuota(let window)?, _):
            return "send quota: at most \(admissionLimits.quotas.limit(of: window)) deliveries per \(window.rawValue)"
        }
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
