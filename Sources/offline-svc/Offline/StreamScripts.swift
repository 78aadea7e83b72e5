import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// The atomic steps on a user's stream, as typed calls: append, sync, ack and read. Each is
/// one Lua script on the `{user}` slot that starts with ``StreamLua/prelude`` (keys, common
/// arguments and replies are described there and on each script).
struct StreamScripts: Sendable {
    let policy: StreamPolicy

    /// `ARGV[1...7]` of every call (``StreamLua`` names them).
    private func common(now: UInt64) -> [RedisArgument] {
        [RedisArgument(StorageEpoch.make()), RedisArgument(Int64(now)), RedisArgument(policy.maxEntries),
         RedisArgument(policy.retentionMilliseconds), RedisArgument(policy.maxDevices), RedisArgument(policy.maxSubscriptions),
         RedisArgument(policy.maxBytes)]
    }

    /// Appends `entry` (stored without `seq` and `body`) to `user`'s stream, or re-finds it.
    func append(_ entry: StreamEntry, user: String, now: UInt64) -> RedisCommand<AppendOutcome> {
        var stored = entry
        stored.seq = 0
        stored.body = nil
        stored.gone = false
        let (status, by) = entry.kind == .read ? ("read", user) : (entry.status?.rawValue ?? "", entry.by ?? "")
        let own = entry.kind == .message ? entry.from == user : Self.joins(entry, user: user)
        return Self.appendScript.call(keys: StreamLua.keys(user), arguments: common(now: now) + [
            RedisArgument(entry.kind.rawValue), RedisArgument(entry.conv), RedisArgument(Int64(clamping: entry.cseq)),
            RedisArgument(entry.msg ?? ""), RedisArgument(status), RedisArgument(by), own ? "1" : "0",
            RedisArgument(Envelope.encode(stored)),
        ])
    }

    /// The start of a sync page (and, with `subscribe`, the session's subscription) for `query`.
    func sync(_ query: QueryEnvelope, now: UInt64) -> RedisCommand<SyncOutcome> {
        Self.syncScript.call(keys: StreamLua.keys(query.user), arguments: common(now: now) + [
            RedisArgument(query.session), RedisArgument(query.edge), RedisArgument(query.device), query.subscribe ? "1" : "0",
            RedisArgument(query.after.map { String($0) } ?? ""), RedisArgument(query.epoch ?? ""),
            RedisArgument(policy.pageEntries),
        ])
    }

    /// Moves the device's cursor to `move.seq` (clamped) and reads what the ack newly covers.
    func ack(_ move: CursorMove, seq: UInt64, now: UInt64) -> RedisCommand<AckOutcome> {
        Self.ackScript.call(keys: StreamLua.keys(move.user), arguments: common(now: now) + [
            RedisArgument(move.device), RedisArgument(Int64(clamping: seq)), RedisArgument(move.after.map { String($0) } ?? ""),
            RedisArgument(move.user),
        ])
    }

    /// Moves `user`'s read cursor of `conv` to `cseq` (clamped) and appends the `read` entry.
    func read(user: String, conv: String, cseq: UInt64, now: UInt64) -> RedisCommand<ReadOutcome> {
        Self.readScript.call(keys: StreamLua.keys(user), arguments: common(now: now) + [
            RedisArgument(conv), RedisArgument(Int64(clamping: cseq)), RedisArgument(user),
        ])
    }

    /// Whether `entry` is the group change that made `user` a member: what came before it in the
    /// group was not said to them, so their read cursor starts there.
    static func joins(_ entry: StreamEntry, user: String) -> Bool {
        guard entry.kind == .group else { return false }
        switch entry.event {
        case .created: return entry.by == user || entry.members?.contains(user) == true
        case .added: return entry.members?.contains(user) == true
        case .removed, .left, nil: return false
        }
    }

    /// ARGV[8...15]: kind, conv, cseq, msg, receipt status, receipt by, own (0/1: the user's message or
    /// the group change that made the user a member), entry JSON.
    /// Reply: `[seq, duplicate, epoch, session, subscription, …]`; `[0, 1]` for an entry under its watermark.
    static let appendScript = RedisScript(keys: 9, StreamLua.script("""
        local s = open()
        local seq, duplicate = append(s, ARGV[8], ARGV[9], tonumber(ARGV[10]), ARGV[11], ARGV[12], ARGV[13], ARGV[14] == '1', ARGV[15])
        if seq == 0 then return {0, 1} end
        return with_subscribers({seq, duplicate, s.epoch})
        """), decode: AppendOutcome.init(reply:))

    /// ARGV[8...14]: session, edge, device, subscribe (0/1), after ('' = the device's cursor),
    /// epoch ('' = none), page entries.
    /// Reply: `[epoch, head, after, reset, more, seq, entry JSON, …]`.
    static let syncScript = RedisScript(keys: 9, StreamLua.script("""
        local s = open()
        trim(s)
        local session, edge, device = ARGV[8], ARGV[9], ARGV[10]
        if ARGV[11] == '1' and redis.call('HEXISTS', SUBS, session) == 0 then
          while redis.call('HLEN', SUBS) >= MAX_SUBS do
            local all, oldest, since = redis.call('HGETALL', SUBS), nil, nil
            for i = 1, #all, 2 do
              local t = tonumber(string.match(all[i + 1], '(%d+)$')) or 0
              if not since or t < since then oldest, since = all[i], t end
            end
            redis.call('HDEL', SUBS, oldest)
          end
        end
        if ARGV[11] == '1' then redis.call('HSET', SUBS, session, edge .. ' ' .. device .. ' ' .. ARGV[2]) end
        local after, epoch, reset = tonumber(ARGV[12]), ARGV[13], false
        if after then
          reset = (epoch ~= s.epoch and not (epoch == '' and after == 0)) or after > s.head or after < s.first - 1
        else
          after = cursor_of(device)
          reset = not after or after > s.head or after < s.first - 1
        end
        if reset then
          set_cursor(device, s.head)
          return {s.epoch, s.head, s.head, 1, 0}
        end
        local reply = {s.epoch, s.head, after, 0, 0}
        local entries = redis.call('XRANGE', STREAM, int(after + 1) .. '-0', '+', 'COUNT', tonumber(ARGV[14]))
        for _, entry in ipairs(entries) do
          reply[#reply + 1] = seq_of(entry[1])
          reply[#reply + 1] = field(entry[2], 'e') or ''
        end
        if #entries > 0 and seq_of(entries[#entries][1]) < s.head then reply[5] = 1 end
        return reply
        """), decode: SyncOutcome.init(reply:))

    /// ARGV[8...11]: device, seq, after ('' = the device's cursor before this ack), user.
    /// Reply: `[conv, cseq, msg, from, id ('' = none), …]`: per direct conversation, the newest message
    /// from another user among the (at most \(StreamPolicy.maxAckedScanned)) entries the ack newly covers.
    /// Groups give no `delivered` receipts (a message to N members would make N of them).
    static let ackScript = RedisScript(keys: 9, StreamLua.script("""
        local s = open()
        local device, user = ARGV[8], ARGV[11]
        local top = math.min(tonumber(ARGV[9]), s.head)
        local old = cursor_of(device)
        if not old or top > old then set_cursor(device, top) end
        local low = math.max(tonumber(ARGV[10]) or old or 0, s.first - 1)
        local reply = {}
        if top <= low then return reply end
        local newest, order = {}, {}
        local covered = redis.call('XREVRANGE', STREAM, int(top) .. '-0', int(low + 1) .. '-0', 'COUNT', \(StreamPolicy.maxAckedScanned))
        for _, entry in ipairs(covered) do
          local ok, e = pcall(cjson.decode, field(entry[2], 'e'))
          if ok and e.type == 'message' and type(e.conv) == 'string' and string.sub(e.conv, 1, 3) == 'dm:' and type(e.from) == 'string' and e.from ~= user
              and type(e.msg) == 'string' then
            local seen = newest[e.conv]
            if not seen then order[#order + 1] = e.conv end
            if not seen or e.cseq > seen.cseq then newest[e.conv] = e end
          end
        end
        for _, conv in ipairs(order) do
          local e = newest[conv]
          local id = type(e.id) == 'string' and e.id or ''
          for _, item in ipairs({conv, int(e.cseq), e.msg, e.from, id}) do reply[#reply + 1] = item end
        end
        return reply
        """), decode: AckOutcome.init(reply:))

    /// ARGV[8...10]: conv, cseq, user.
    /// Reply: `[-1]` when the stream holds no message of `conv` (a dm; a group without messages
    /// answers where its read cursor is, unmoved); else
    /// `[read cseq before, read cseq, seq of the read entry (0: none), duplicate, epoch, session, subscription, …]`.
    static let readScript = RedisScript(keys: 9, StreamLua.script("""
        local s = open()
        local conv, user = ARGV[8], ARGV[10]
        local last = redis.call('HGET', LAST, conv)
        if not last then
          -- A group with no message in this stream yet (its membership was checked on the group's
          -- slot before this step): nothing to read, not a refusal.
          if string.sub(conv, 1, 2) ~= 'g:' then return {-1} end
          local at = tonumber(redis.call('HGET', READ, conv)) or 0
          return {at, at, 0, 1}
        end
        local target = math.min(tonumber(ARGV[9]), tonumber(string.match(last, '^%d+')))
        local before = tonumber(redis.call('HGET', READ, conv)) or 0
        local read = before
        if target > read then
          read = target
          redis.call('HSET', READ, conv, int(read))
        end
        if read == 0 then return {0, 0, 0, 1} end
        local json = '{"type":"read","conv":' .. cjson.encode(conv) .. ',"cseq":' .. int(read) .. '}'
        local seq, duplicate = append(s, 'read', conv, read, nil, 'read', user, false, json)
        return with_subscribers({before, read, seq, duplicate, s.epoch})
        """), decode: ReadOutcome.init(reply:))
}
