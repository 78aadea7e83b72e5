import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// What the conversation step did with one message.
enum ConversationOutcome: Sendable, Equatable {
    /// Stored in the log at this new `cseq`.
    case stored(cseq: UInt64)
    /// A client retry or a replay of (sender, client id): first stored at `cseq` as `msg`;
    /// `logged` is the ChatMessage JSON in the log (nil when retention trimmed it).
    case duplicate(cseq: UInt64, msg: String, logged: [UInt8]?)
    /// Not stored: the sender may not write to the conversation.
    case refused(ErrorCode)
}

/// The one atomic step relay-svc takes per conversation and batch: a Lua script on the
/// conversation's slot (`{conv}`) that drops client retries, checks membership, assigns
/// `cseq`s, appends to the conversation log and trims it.
///
/// Call: `KEYS` = `meta`, `log`, then the dedup key of each message (``RedisKeys/ConversationKeys``);
/// `ARGV` = conv, epoch candidate, now (unix ms), dedup TTL (ms), most entries, retention (ms),
/// then per message: sender, msg, and the message's JSON before and after its `cseq` value.
/// Reply: one item per message, in order — an integer `cseq` (stored), `[cseq, msg, m|nil]`
/// (duplicate), or an error code string (refused).
enum ConversationStep {
    /// The call for `messages` (all of `conv`, in order, each with `to` already set).
    static func call(conv: String, messages: [ChatMessage], epoch: String, now: UInt64, dedupTTL: Duration,
                     retention: ConversationRetention) -> RedisCommand<[ConversationOutcome]> {
        let keys = RedisKeys.ConversationKeys(conv)
        var arguments: [RedisArgument] = [
            RedisArgument(conv), RedisArgument(epoch), RedisArgument(Int64(now)), RedisArgument(dedupTTL.redisMilliseconds),
            RedisArgument(retention.maxEntries), RedisArgument(retention.age.redisMilliseconds),
        ]
        arguments.reserveCapacity(arguments.count + 4 * messages.count)
        for message in messages {
            let (head, tail) = jsonAroundCseq(message)
            arguments += [RedisArgument(message.from), RedisArgument(message.msg), RedisArgument(head), RedisArgument(tail)]
        }
        let dedupKeys = messages.map { keys.dedup(from: $0.from, clientID: $0.id ?? $0.msg) }
        return script.call(keys: [keys.meta, keys.log] + dedupKeys, arguments: arguments)
    }

    /// The message's JSON split around its `cseq` value, so the script can write it with the
    /// `cseq` it assigns: `head + "<cseq>" + tail` is `Envelope.encode` of the message with that `cseq`.
    static func jsonAroundCseq(_ message: ChatMessage) -> (head: [UInt8], tail: [UInt8]) {
        var placeholder = message
        placeholder.cseq = 0
        let json = Envelope.encode(placeholder)
        // `"cseq":` can only be the key itself: a quote inside a JSON string is escaped.
        let marker = Array(#""cseq":0"#.utf8)
        guard let range = json.firstRange(of: marker) else {
            preconditionFailure("ChatMessage's JSON lacks its cseq field")
        }
        return (Array(json[..<(range.upperBound - 1)]), Array(json[range.upperBound...]))
    }

    /// Reads the script's reply: one outcome per message.
    static func outcomes(_ reply: RESPValue) throws(RedisError) -> [ConversationOutcome] {
        var outcomes: [ConversationOutcome] = []
        for item in try reply.asArray() {
            switch item {
            case .integer(let cseq) where cseq > 0:
                outcomes.append(.stored(cseq: UInt64(cseq)))
            case .array(let parts) where parts.count == 3:
                let cseq = try parts[0].asInteger()
                guard cseq > 0, let msg = try parts[1].asString() else { throw unexpected(item) }
                outcomes.append(.duplicate(cseq: UInt64(cseq), msg: msg, logged: try parts[2].asBytes()))
            case .bulk:
                guard let text = try item.asString(), let code = ErrorCode(rawValue: text) else { throw unexpected(item) }
                outcomes.append(.refused(code))
            default:
                throw unexpected(item)
            }
        }
        return outcomes
    }

    private static func unexpected(_ item: RESPValue) -> RedisError {
        RedisError(code: .protocol, message: "expected cseq, [cseq, msg, m] or an error code, got \(item)")
    }

    // Membership: a dm's members are the two users it names; groups do not exist yet, so a `g:`
    // conversation has none. A meta without `n` (first use, or lost) continues after the log's
    // last id, so no cseq is ever given twice. Trimming never scans: by count one XTRIM MINID
    // (cseqs have no gaps), by age the oldest entry first and at most 64 more.
    private static let script = RedisScript(anyKeys: """
        local meta, log = KEYS[1], KEYS[2]
        local a, b = string.match(ARGV[1], '^dm:([^:]+):([^:]+)$')
        local now, ttl = ARGV[3], ARGV[4]
        local function field(entry, name)
          local fields = entry[2]
          for i = 1, #fields, 2 do
            if fields[i] == name then return fields[i + 1] end
          end
        end
        local function cseqOf(id) return tonumber(string.match(id, '^(%d+)')) end

        local n = redis.call('HGET', meta, 'n')
        local fresh = not n
        if fresh then
          n = 0
          if redis.call('EXISTS', log) == 1 then
            local info = redis.call('XINFO', 'STREAM', log)
            for i = 1, #info, 2 do
              if info[i] == 'last-generated-id' then n = cseqOf(info[i + 1]) end
            end
          end
        else
          n = tonumber(n)
        end
        local before = n

        local out = {}
        for i = 1, #KEYS - 2 do
          local at = 6 + 4 * (i - 1)
          local sender, msg, dedup = ARGV[at + 1], ARGV[at + 2], KEYS[2 + i]
          local seen = redis.call('GET', dedup)
          if seen then
            local space = string.find(seen, ' ', 1, true)
            local cseq = string.sub(seen, 1, space - 1)
            local logged = redis.call('XRANGE', log, cseq .. '-0', cseq .. '-0')[1]
            out[i] = {tonumber(cseq), string.sub(seen, space + 1), logged and field(logged, 'm') or false}
          elseif sender ~= a and sender ~= b then
            out[i] = 'not_member'
          else
            n = n + 1
            redis.call('XADD', log, n .. '-0', 'm', ARGV[at + 3] .. n .. ARGV[at + 4], 't', now)
            redis.call('SET', dedup, n .. ' ' .. msg, 'PX', ttl)
            out[i] = n
          end
        end

        if n > before then
          if fresh then redis.call('HSET', meta, 'n', n, 'e', ARGV[2]) else redis.call('HSET', meta, 'n', n) end
          local max = tonumber(ARGV[5])
          if n > max then redis.call('XTRIM', log, 'MINID', (n - max + 1) .. '-0') end
          local cutoff = tonumber(now) - tonumber(ARGV[6])
          local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
          if oldest and (tonumber(field(oldest, 't')) or 0) < cutoff then
            local entries = redis.call('XRANGE', log, '-', '+', 'COUNT', 64)
            local keep = (cseqOf(entries[#entries][1]) + 1) .. '-0'
            for _, entry in ipairs(entries) do
              if (tonumber(field(entry, 't')) or 0) >= cutoff then
                keep = entry[1]
                break
              end
            end
            redis.call('XTRIM', log, 'MINID', keep)
          end
        end
        return out
        """, decode: outcomes)
}
