import ParleyBackend
import ParleyRedis

/// offline-svc's reads of a group's keys (relay-svc, the conversation's single writer, owns
/// them; see ``RedisKeys/ConversationKeys``) and its one write there: the members' read cursors.
enum GroupState {
    /// `user`'s record in `conv`'s `members` hash; nil when the user never was a member (or the
    /// value is not in ``GroupMemberRecord``'s format).
    static func member(_ user: String, of conv: String) -> RedisCommand<GroupMemberRecord?> {
        RedisCommand<String?>.hget(RedisKeys.ConversationKeys(conv).members, user).map { $0.flatMap(GroupMemberRecord.init) }
    }

    /// The group's title (nil: none, or no such group).
    static func title(of conv: String) -> RedisCommand<String?> {
        .hget(RedisKeys.ConversationKeys(conv).meta, "title")
    }

    /// The number of current members (0 when there is no such group).
    static func count(of conv: String) -> RedisCommand<Int> {
        RedisCommand<String?>.hget(RedisKeys.ConversationKeys(conv).meta, "count").map { $0.flatMap { Int($0) } ?? 0 }
    }

    /// Moves `user`'s read cursor in `conv`'s `reads` hash up to `cseq` (never down), so
    /// replayed and reordered moves leave the highest.
    static func mirrorRead(user: String, conv: String, cseq: UInt64) -> RedisCommand<RESPValue> {
        mirrorScript.call(keys: [RedisKeys.ConversationKeys(conv).reads], arguments: [RedisArgument(user), RedisArgument(Int64(clamping: cseq))])
    }

    /// KEYS[1] the reads hash; ARGV[1] user, ARGV[2] cseq. Reply: nothing.
    private static let mirrorScript = RedisScript(keys: 1, """
        local cseq = tonumber(ARGV[2])
        if cseq > (tonumber(redis.call('HGET', KEYS[1], ARGV[1])) or 0) then
          redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', cseq))
        end
        """) { $0 }
}
