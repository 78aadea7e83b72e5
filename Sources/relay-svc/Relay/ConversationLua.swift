/// The Lua of ``ConversationStep``, in named parts: the call's keys and arguments and the
/// `cseq` counter, a group's members, the message step, the group changes, and the main loop
/// with the retention trim. ``source`` is the parts in that order (each part uses only what an
/// earlier one defines).
///
/// Call: `KEYS` = `meta`, `log`, `members`, `blocks`, then one dedup key per operation; `ARGV` =
/// conv, epoch candidate, now (unix ms), dedup TTL (ms), most log entries, retention (ms), most
/// group members, the message request limit (0: none), the number L of users at
/// `--max-groups-per-user` followed by those L users, the number B of `<by>\n<user>` pairs where
/// `user` blocks `by` followed by those B pairs, then per operation either
/// `m, sender, msg, JSON before cseq, JSON after cseq` (a message), `b|u, by, op` (a block or an
/// unblock of the dm's other user) or `<action>, by, op, title ('' for none), K, K users` (a
/// group change).
enum ConversationLua {
    static let source = header + roster + messages + changes + main

    /// Names for the keys and fixed arguments, small helpers, and the last `cseq` given.
    static let header = """
        local META, LOG, MEMBERS, BLOCKS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
        local CONV, EPOCH, NOW, TTL = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
        local MAX_ENTRIES, RETENTION, MAX_MEMBERS = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
        local REQUEST_LIMIT = tonumber(ARGV[8])
        local GROUP = string.sub(CONV, 1, 2) == 'g:'

        -- A whole number as text (tostring switches to an exponent beyond 1e14).
        local function int(x) return string.format('%d', x) end
        local function field(entry, name)
          local fields = entry[2]
          for i = 1, #fields, 2 do
            if fields[i] == name then return fields[i + 1] end
          end
        end
        local function cseq_of(id) return tonumber(string.match(id, '^(%d+)')) end
        -- Byte order of user ids (Lua's `<` on strings follows the server's locale).
        local function precedes(a, b)
          for i = 1, math.min(#a, #b) do
            local x, y = string.byte(a, i), string.byte(b, i)
            if x ~= y then return x < y end
          end
          return #a < #b
        end

        -- The last cseq given: meta's `n`; without it (first use, or a lost meta) the log's last
        -- id, so no cseq is ever given twice.
        local n = redis.call('HGET', META, 'n')
        local fresh = not n
        if fresh then
          n = 0
          if redis.call('EXISTS', LOG) == 1 then
            local info = redis.call('XINFO', 'STREAM', LOG)
            for i = 1, #info, 2 do
              if info[i] == 'last-generated-id' then n = cseq_of(info[i + 1]) end
            end
          end
        else
          n = tonumber(n)
        end
        local before = n

        """

    /// A message: dedup, membership, a dm's blocks and message request limit, the log append.
    static let messages = """
        local DM_A, DM_B = string.match(CONV, '^dm:([^:]+):([^:]+)$')

        -- Whether `user` sent a message in this dm: meta's `s:<user>`, or (a conversation from
        -- before that field) one of the log's newest 50 entries, which then sets the field.
        local function has_sent(user)
          if redis.call('HEXISTS', META, 's:' .. user) == 1 then return true end
          for _, entry in ipairs(redis.call('XREVRANGE', LOG, '+', '-', 'COUNT', 50)) do
            if cjson.decode(field(entry, 'm')).from == user then
              redis.call('HSET', META, 's:' .. user, 1)
              return true
            end
          end
          return false
        end

        -- A dm message's admission: `blocked` (the peer blocks the sender), `blocking` (the
        -- sender blocks the peer), `request_limit` (the peer never replied and the sender sent
        -- REQUEST_LIMIT messages already), or nil. Counts the sender's messages in `s:<sender>`
        -- while the peer has not replied (afterwards the field only says that the sender sent).
        local function dm_refusal(sender)
          local peer = sender == DM_A and DM_B or DM_A
          for _, user in ipairs(redis.call('SMEMBERS', BLOCKS)) do
            return user == sender and 'blocking' or 'blocked'
          end
          if REQUEST_LIMIT == 0 or peer == sender then return nil end
          local mine = 's:' .. sender
          if redis.call('HEXISTS', META, 's:' .. peer) == 1 then
            redis.call('HSETNX', META, mine, 1)
            return nil
          end
          if (tonumber(redis.call('HGET', META, mine)) or 0) >= REQUEST_LIMIT and not has_sent(peer) then return 'request_limit' end
          redis.call('HINCRBY', META, mine, 1)
          return nil
        end

        -- Answers the new cseq, {first cseq, first msg, logged JSON or false} for a duplicate, or
        -- an error code (`not_member`, or dm_refusal's).
        local function message(sender, msg, head, tail, dedup)
          local seen = redis.call('GET', dedup)
          if seen then
            local space = string.find(seen, ' ', 1, true)
            local cseq = string.sub(seen, 1, space - 1)
            local logged = redis.call('XRANGE', LOG, cseq .. '-0', cseq .. '-0')[1]
            return {tonumber(cseq), string.sub(seen, space + 1), logged and field(logged, 'm') or false}
          end
          local member
          if GROUP then member = is_member(sender) else member = sender == DM_A or sender == DM_B end
          if not member then return 'not_member' end
          if not GROUP then
            local refusal = dm_refusal(sender)
            if refusal then return refusal end
          end
          n = n + 1
          redis.call('XADD', LOG, int(n) .. '-0', 'm', head .. int(n) .. tail, 't', NOW)
          redis.call('SET', dedup, int(n) .. ' ' .. msg, 'PX', TTL)
          return n
        end

        -- A block (`on`) or unblock of the dm's other user by `by`: answers 0, or `bad_request`
        -- in a group or from a user the dm does not name.
        local function block(on, by)
          if GROUP or (by ~= DM_A and by ~= DM_B) then return 'bad_request' end
          if on then redis.call('SADD', BLOCKS, by) else redis.call('SREM', BLOCKS, by) end
          return 0
        end

        """

    /// The operations in order, then meta and the retention trim. Trimming never scans: by
    /// count one XTRIM MAXLEN (not MINID by cseq: group changes take cseqs without log
    /// entries), by age the oldest entry first and at most 64 more.
    static let main = """
        local limited, blockers, at, out = {}, {}, 10, {}
        for i = 1, tonumber(ARGV[9]) do limited[ARGV[9 + i]] = true end
        at = at + tonumber(ARGV[9])
        for i = 1, tonumber(ARGV[at]) do blockers[ARGV[at + i]] = true end
        at = at + 1 + tonumber(ARGV[at])
        for i = 1, #KEYS - 4 do
          local kind, by, id, dedup = ARGV[at], ARGV[at + 1], ARGV[at + 2], KEYS[4 + i]
          if kind == 'm' then
            out[i] = message(by, id, ARGV[at + 3], ARGV[at + 4], dedup)
            at = at + 5
          elseif kind == 'b' or kind == 'u' then
            out[i] = block(kind == 'b', by)
            at = at + 3
          else
            local names = {}
            for k = 1, tonumber(ARGV[at + 4]) do names[k] = ARGV[at + 4 + k] end
            out[i] = change(kind, by, id, ARGV[at + 3], names, limited, blockers, dedup)
            at = at + 5 + #names
          end
        end

        if n > before then
          if fresh then redis.call('HSET', META, 'n', n, 'e', EPOCH) else redis.call('HSET', META, 'n', n) end
          if regrouped then redis.call('HSET', META, 'count', count) end
          if n > MAX_ENTRIES then redis.call('XTRIM', LOG, 'MAXLEN', MAX_ENTRIES) end
          local cutoff = tonumber(NOW) - RETENTION
          local oldest = redis.call('XRANGE', LOG, '-', '+', 'COUNT', 1)[1]
          if oldest and (tonumber(field(oldest, 't')) or 0) < cutoff then
            local entries = redis.call('XRANGE', LOG, '-', '+', 'COUNT', 64)
            local keep = int(cseq_of(entries[#entries][1]) + 1) .. '-0'
            for _, entry in ipairs(entries) do
              if (tonumber(field(entry, 't')) or 0) >= cutoff then
                keep = entry[1]
                break
              end
            end
            redis.call('XTRIM', LOG, 'MINID', keep)
          end
        end

        if not GROUP then return {out, false, false} end
        local members = {}
        for user, r in pairs(roster) do
          members[#members + 1] = user
          members[#members + 1] = r.role .. ' ' .. r.spans
        end
        return {out, members, title}
        """
}
