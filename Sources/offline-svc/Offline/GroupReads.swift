import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// The group side of `read` moves: who may move a read cursor in a group, the mirror of the
/// cursor into the group's `reads` hash (what `members` shows), and the `read` receipts of small
/// groups.
///
/// Receipts: a read in a group of at most `--group-receipts-max` current members gives each
/// other sender of the newly read messages one `read` receipt at their newest message among them;
/// bigger groups give none (a read in a 1,000-member group could otherwise make up to 999 stream
/// entries), their senders see "read by N" from the cursors `members` shows. The range read is at
/// most ``maxScanned`` log entries below the new cursor. A read whose cursor did not move (a
/// replayed record: the step before the crash moved it already) reads the same number of
/// entries below it instead, so the receipts are not lost; the watermarks in the senders'
/// streams drop the ones they have.
struct GroupReads: Sendable {
    /// Groups of at most this many current members give read receipts.
    let receiptsMax: Int

    /// Most log entries one read looks at for its receipts.
    static let maxScanned = 200

    /// What a read in a group needs to know before its script: the reader's membership and the group's size.
    struct Standing: Sendable {
        let member: RedisPipeline.Entry<GroupMemberRecord?>
        let count: RedisPipeline.Entry<Int>
    }

    /// Adds the reads of `user`'s standing in `conv` to `pipeline`.
    func standing(of user: String, in conv: String, pipeline: inout RedisPipeline) -> Standing {
        Standing(member: pipeline.add(GroupCommands.member(user, of: conv)), count: pipeline.add(GroupCommands.count(of: conv)))
    }

    /// A read that moved (or found) `user`'s cursor of `conv` at `read`, from `before`.
    struct Moved: Sendable {
        let user: String
        let conv: String
        let before: UInt64
        let read: UInt64
        /// The group's current members when the read was checked.
        let count: Int
    }

    /// Mirrors each read and returns the receipts they give, in one round trip.
    func finish(_ moved: [Moved], redis: RedisClient) async throws -> [InboxEntry] {
        guard !moved.isEmpty else { return [] }
        var pipeline = RedisPipeline()
        let ranges = moved.map { move in
            pipeline.add(GroupState.mirrorRead(user: move.user, conv: move.conv, cseq: move.read))
            return move.count <= receiptsMax ? pipeline.add(Self.range(move)) : nil
        }
        let replies = try await redis.send(pipeline)
        var receipts: [InboxEntry] = []
        for (move, range) in zip(moved, ranges) {
            guard let range else { continue }
            receipts += Self.receipts(try replies[range], move: move)
        }
        return receipts
    }

    /// The newest (at most ``maxScanned``) log entries the read covers: (before, read], or up to
    /// `read` when the cursor did not move.
    private static func range(_ move: Moved) -> RedisCommand<[RedisStreamEntry]> {
        let start = move.read > move.before && move.before > 0 ? RedisStreamBound.exclusive(RedisStreamID(move.before)) : .minimum
        return .xrevrange(RedisKeys.ConversationKeys(move.conv).log, from: .inclusive(RedisStreamID(move.read)), to: start,
                          count: maxScanned)
    }

    /// One `read` receipt per other sender in `entries` (newest first), at their newest message.
    private static func receipts(_ entries: [RedisStreamEntry], move: Moved) -> [InboxEntry] {
        var senders: Set<String> = []
        var receipts: [InboxEntry] = []
        for entry in entries {
            guard let message = try? ConversationLogReads.message(in: entry), message.from != move.user,
                  senders.insert(message.from).inserted else { continue }
            receipts.append(InboxEntry(user: message.from, entry: StreamEntry(
                kind: .receipt, msg: message.msg, conv: move.conv, cseq: message.cseq ?? 0, by: move.user, status: .read,
                id: message.id)))
        }
        return receipts
    }
}
