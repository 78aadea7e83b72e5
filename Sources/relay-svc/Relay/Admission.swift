import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// What relay-svc checks of a batch before the conversation steps, on slots other than the
/// conversations' own: the send quotas (each user's on the user's slot) and the blocks of the
/// users a group change would add (on their dms' slots).
///
/// Order and replay: one pipeline of reads (whether each charged operation's dedup key exists,
/// the size of each group, the blocks of each (adder, added) pair), then one pipeline with one
/// quota step per user, then the conversation steps. A duplicate (its dedup key exists: stored
/// before, by an earlier run of this batch or a client retry) is never charged and never
/// refused by a quota, so a batch routed again after a crash after its steps answers the same.
/// A crash between the quota step and the conversation steps charges those operations again
/// when the batch is routed again (the quota over-counts by at most one batch); an operation
/// the quota refused is judged again then (in a later window it may be stored after its
/// `rejected` entry went out). Blocks are read before the group's step, not in it:
/// a block and an add handled at the same moment on two partitions may both go through.
struct Admission: Sendable {
    let redis: RedisClient
    let quotas: SendQuotas

    /// The outcome of the checks: operations already refused (by index), and the adds refused
    /// because the added user blocks the adder.
    struct Verdict: Sendable {
        var refused: [Int: ConversationOutcome] = [:]
        var blockers: Set<BlockedAdd> = []
    }

    func check(_ operations: [ConversationOperation], now: UInt64) async throws -> Verdict {
        var verdict = Verdict()
        let charged = quotas.isLimited ? operations.indices.filter { Self.isCharged(operations[$0]) } : []
        let pairs = Set(operations.compactMap(\.adding).flatMap { adding in
            adding.users.filter { $0 != adding.by }.map { BlockedAdd(by: adding.by, user: $0) }
        })
        guard !charged.isEmpty || !pairs.isEmpty else { return verdict }

        var reads = RedisPipeline()
        let seen = charged.map { index in
            let origin = operations[index].origin
            return (index, reads.add(.exists(RedisKeys.ConversationKeys(operations[index].conv).dedup(from: origin.user, clientID: origin.clientID))))
        }
        let groups = Set(charged.map { operations[$0].conv }.filter { $0.hasPrefix("g:") })
        let sizes = groups.map { ($0, reads.add(GroupCommands.count(of: $0))) }
        let blocks = pairs.map { ($0, reads.add(.smembers(RedisKeys.ConversationKeys(Conversation.direct($0.by, $0.user)).blocks))) }
        let replies = try await redis.send(reads)

        for (pair, call) in blocks where try replies[call].contains(pair.user) { verdict.blockers.insert(pair) }
        var size: [String: Int] = [:]
        for (conv, call) in sizes { size[conv] = try replies[call] }
        var costs: [String: [(index: Int, cost: Int)]] = [:]
        for (index, call) in seen where try !replies[call] {
            costs[operations[index].origin.user, default: []].append((index, Self.cost(of: operations[index], groupSize: size)))
        }
        guard !costs.isEmpty else { return verdict }

        var charges = RedisPipeline()
        let calls = costs.map { user, items in (items, charges.add(quotas.charge(user, costs: items.map(\.cost), now: now))) }
        let answers = try await redis.send(charges)
        for (items, call) in calls {
            for (item, window) in zip(items, try answers[call]) {
                if let window { verdict.refused[item.index] = .refused(.quotaExceeded, cause: .sendQuota(window)) }
            }
        }
        return verdict
    }

    /// Whether the quotas count `operation`: messages, and the group changes that add members
    /// (removing and leaving, like blocking, are never stopped by a quota).
    static func isCharged(_ operation: ConversationOperation) -> Bool {
        switch operation {
        case .message: true
        case .group: operation.adding != nil
        case .block: false
        }
    }

    /// The deliveries `operation` makes to others: a dm message 1; a group message the other
    /// current members (at least 1); a create its named members; an add the current members and
    /// the added ones (everyone gets the `group` entry).
    static func cost(of operation: ConversationOperation, groupSize: [String: Int]) -> Int {
        let members = groupSize[operation.conv] ?? 0
        switch operation {
        case .message(let message): return message.conv.hasPrefix("g:") ? max(members - 1, 1) : 1
        case .group(let change): return max(change.action == .create ? change.members.count : members + change.members.count, 1)
        case .block: return 0
        }
    }
}
