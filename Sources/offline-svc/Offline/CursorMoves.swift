import Logging
import Metrics
import ParleyBackend
import ParleyChat
import ParleyKafka
import ParleyProtocol
import ParleyRedis

/// Handles `chat.acks`: device acks and read moves.
///
/// - `ack`: the device's cursor moves to `seq` (clamped to the head, never backwards); each
///   direct conversation's newest message from another user among the entries the ack covers
///   (after `after`) gives its sender a `delivered` receipt. Groups give none.
/// - `read`: the user's read cursor of `conv` moves to `cseq` (clamped to the conversation's last
///   cseq in the stream, never backwards) and, in the same script, a `read` entry is appended to
///   the user's own stream (delivered to their subscribed sessions); the dm peer gets a `read`
///   receipt; in a group the cursor is mirrored for `members` and small groups give receipts
///   (``GroupReads``). A conversation the user is not in (for a group: not a current member, read
///   before the scripts) gets `error not_member` to the session.
///
/// Receipts go to the sender's stream through `chat.inbox` (its ``StreamPartition``), as every
/// entry for another user's stream does. They are produced every time a record is handled,
/// computed from the record: the watermarks in the receiving stream drop the repeats. Receipts
/// of one batch are coalesced per (user, conv, status, by) to the highest cseq.
struct CursorMoves: Sendable {
    let scripts: StreamScripts
    let redis: RedisClient
    let producer: KafkaProducer
    let topics: Topics
    let inbox: InboxRecords
    let groups: GroupReads
    let malformed: MalformedRecords

    private let receiptsProduced = Counter(label: "parley_receipts_produced_total")

    init(scripts: StreamScripts, redis: RedisClient, producer: KafkaProducer, topics: Topics, inboxPartitions: Int32,
         groupReceiptsMax: Int, malformed: MalformedRecords) {
        self.scripts = scripts
        self.redis = redis
        self.producer = producer
        self.topics = topics
        inbox = InboxRecords(topic: topics.inbox, partitions: inboxPartitions)
        groups = GroupReads(receiptsMax: groupReceiptsMax)
        self.malformed = malformed
    }

    private enum Step {
        case ack(CursorMove, RedisPipeline.Entry<AckOutcome>)
        /// `groupSize`: the group's current members (nil for a dm).
        case read(CursorMove, conv: String, groupSize: Int?, RedisPipeline.Entry<ReadOutcome>)
        case notMember(CursorMove, conv: String)
    }

    /// A usable move.
    private enum Checked {
        case ack(CursorMove, seq: UInt64)
        case read(CursorMove, conv: String, cseq: UInt64)
    }

    /// Handles a batch of `chat.acks` records.
    func handle(_ records: [KafkaRecord]) async throws {
        let (deliveries, receipts) = try await apply(malformed.decode(CursorMove.self, records))
        let outputs = deliveries.records(topics) + inbox.records(receipts)
        guard !outputs.isEmpty else { return }
        _ = try await producer.send(batch: outputs)
        receiptsProduced.increment(by: receipts.count)
    }

    /// Applies `moves` in order; returns what goes to edges and the receipts for other streams.
    func apply(_ moves: [CursorMove]) async throws -> (EdgeDeliveries, [InboxEntry]) {
        let checked = check(moves)
        let standings = try await groupStandings(checked)
        var pipeline = RedisPipeline()
        let steps = plan(checked, standings: standings, in: &pipeline)
        // Durable: a read entry's seq a device sees must survive a Redis failover (WAIT in cluster mode).
        let replies = try await redis.sendDurably(pipeline)

        var deliveries = EdgeDeliveries()
        var receipts = Receipts()
        var reads: [(peer: String, by: String, key: MessageKey)] = []
        var groupReads: [GroupReads.Moved] = []
        for step in steps {
            switch step {
            case .ack(let move, let reply):
                for message in try replies[reply].messages {
                    receipts.add(InboxEntry(user: message.from, entry: StreamEntry(
                        kind: .receipt, msg: message.msg, conv: message.conv, cseq: message.cseq, by: move.user,
                        status: .delivered, id: message.id)))
                }
            case .read(let move, let conv, let groupSize, let reply):
                guard case .moved(let before, let read, let seq, _, let epoch, let subscribers) = try replies[reply] else {
                    deliveries.add(Self.notMember(move, conv: conv), edge: move.edge)
                    continue
                }
                if seq > 0 {
                    deliveries.add(StreamEntry(kind: .read, seq: seq, conv: conv, cseq: read), user: move.user, epoch: epoch,
                                   to: subscribers)
                }
                if read > 0, let groupSize {
                    groupReads.append(GroupReads.Moved(user: move.user, conv: conv, before: before, read: read, count: groupSize))
                } else if read > 0, let peer = Conversation.peer(in: conv, of: move.user), peer != move.user {
                    reads.append((peer, move.user, MessageKey(conv: conv, cseq: read)))
                }
            case .notMember(let move, let conv):
                deliveries.add(Self.notMember(move, conv: conv), edge: move.edge)
            }
        }
        async let dmReceipts = readReceipts(reads)
        async let groupReceipts = groups.finish(groupReads, redis: redis)
        for receipt in try await dmReceipts + groupReceipts { receipts.add(receipt) }
        return (deliveries, receipts.entries)
    }

    /// The usable moves (drops malformed ones).
    private func check(_ moves: [CursorMove]) -> [Checked] {
        moves.compactMap { move in
            if let problem = Origin.problem(user: move.user, edge: move.edge, session: move.session) {
                malformed.drop(move, problem, topic: topics.acks)
                return nil
            }
            switch move.kind {
            case .ack:
                guard let seq = move.seq else {
                    malformed.drop(move, "an ack needs seq", topic: topics.acks)
                    return nil
                }
                return .ack(move, seq: seq)
            case .read:
                guard let conv = move.conv, let cseq = move.cseq, Conversation.isValid(conv) else {
                    malformed.drop(move, "a read needs a valid conv and cseq", topic: topics.acks)
                    return nil
                }
                return .read(move, conv: conv, cseq: cseq)
            }
        }
    }

    /// Each group read's standing (membership, group size), in one round trip; indexed like `checked`.
    private func groupStandings(_ checked: [Checked]) async throws -> [Int: (member: Bool, count: Int)] {
        var pipeline = RedisPipeline()
        var asked: [(Int, GroupReads.Standing)] = []
        for (index, item) in checked.enumerated() {
            guard case .read(let move, let conv, _) = item, conv.hasPrefix("g:") else { continue }
            asked.append((index, groups.standing(of: move.user, in: conv, pipeline: &pipeline)))
        }
        guard !asked.isEmpty else { return [:] }
        let replies = try await redis.send(pipeline)
        var standings: [Int: (member: Bool, count: Int)] = [:]
        for (index, standing) in asked {
            standings[index] = (try replies[standing.member]?.isMember ?? false, try replies[standing.count])
        }
        return standings
    }

    /// Adds each move's script to `pipeline`; moves by non-members become refusals.
    private func plan(_ checked: [Checked], standings: [Int: (member: Bool, count: Int)], in pipeline: inout RedisPipeline) -> [Step] {
        let now = UnixTime.nowMilliseconds
        var steps: [Step] = []
        for (index, item) in checked.enumerated() {
            switch item {
            case .ack(let move, let seq):
                steps.append(.ack(move, pipeline.add(scripts.ack(move, seq: seq, now: now))))
            case .read(let move, let conv, let cseq):
                let standing = standings[index]
                if standing?.member == false || (conv.hasPrefix("dm:") && !Conversation.names(conv, user: move.user)) {
                    steps.append(.notMember(move, conv: conv))
                } else {
                    steps.append(.read(move, conv: conv, groupSize: standing?.count,
                                       pipeline.add(scripts.read(user: move.user, conv: conv, cseq: cseq, now: now))))
                }
            }
        }
        return steps
    }

    /// The `read` receipts for dm peers, each naming the message at its cseq (from the conversation log).
    private func readReceipts(_ reads: [(peer: String, by: String, key: MessageKey)]) async throws -> [InboxEntry] {
        guard !reads.isEmpty else { return [] }
        let messages = try await ConversationLogReads.messages(reads.map(\.key), redis: redis)
        return reads.map { peer, by, key in
            let message = messages[key]
            return InboxEntry(user: peer, entry: StreamEntry(
                kind: .receipt, msg: message?.msg, conv: key.conv, cseq: key.cseq, by: by, status: .read,
                id: message?.from == peer ? message?.id : nil))
        }
    }

    private static func notMember(_ move: CursorMove, conv: String) -> DeliverEnvelope {
        DeliverEnvelope(user: move.user, sessions: [move.session], error: ProtocolError(.notMember, "not a member of \(conv)"))
    }
}

/// Receipts of one batch, one per (user, conv, status, by): the highest cseq, in first-seen order.
private struct Receipts {
    private struct Key: Hashable { let user: String; let conv: String; let status: StreamEntry.ReceiptStatus?; let by: String? }
    private var order: [Key] = []
    private var newest: [Key: InboxEntry] = [:]

    mutating func add(_ receipt: InboxEntry) {
        let key = Key(user: receipt.user, conv: receipt.entry.conv, status: receipt.entry.status, by: receipt.entry.by)
        guard let seen = newest[key] else {
            order.append(key)
            newest[key] = receipt
            return
        }
        if receipt.entry.cseq > seen.entry.cseq { newest[key] = receipt }
    }

    var entries: [InboxEntry] { order.compactMap { newest[$0] } }
}
