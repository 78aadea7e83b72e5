import ParleyBackend
import ParleyRedis

/// offline-svc's one write on a group's slot: the members' read cursors (relay-svc owns the
/// group's other keys; offline-svc reads them through ``GroupCommands``).
enum GroupState {
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
