import ParleyBackend
import ParleyProtocol

/// The Lua every stream script starts with: the keys and bounds every call passes, the
/// meta/epoch check, the append and the retention trim, written once.
///
/// Every script of a user's stream takes the same keys (``keys(_:)``, all on the `{user}`
/// slot) and the same first arguments:
/// `ARGV[1]` a fresh epoch candidate (used only when the check starts a new epoch),
/// `ARGV[2]` now (unix ms), `ARGV[3]` max entries, `ARGV[4]` retention (ms), `ARGV[5]` max devices,
/// `ARGV[6]` max subscriptions, `ARGV[7]` max bytes; script arguments follow from `ARGV[8]`.
///
/// Every write to a stream is one of these scripts on the user's slot, so a stream has a
/// single writer at a time whatever the number of consumers: the inbox appends, the read
/// moves that append to their own user's stream, and the syncs that subscribe all run as
/// atomic steps, one after another.
enum StreamLua {
    /// The keys of `user`'s stream in the order the prelude names them.
    static func keys(_ user: String) -> [String] {
        let keys = RedisKeys.StreamKeys(user)
        return [keys.meta, keys.stream, keys.ids, keys.marks, keys.last, keys.conversations, keys.read, keys.devices,
                keys.subscriptions]
    }

    /// `prelude` followed by a script's own body.
    static func script(_ body: String) -> String { prelude + body }

    static let prelude = """
        local META, STREAM, IDS, MARKS, LAST, CONVS, READ, DEVICES, SUBS =
          KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
        local NOW, MAX_ENTRIES, RETENTION, MAX_DEVICES, MAX_SUBS, MAX_BYTES =
          tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
        local LEGACY_DEVICE = '\(Device.legacy)'
        local MAX_TRIMMED, AGED_LOOKED_AT = \(StreamPolicy.maxTrimmedPerStep), \(StreamPolicy.agedLookedAtPerStep)

        -- A whole number as text (tostring switches to an exponent beyond 1e14).
        local function int(n) return string.format('%d', n) end
        local function seq_of(id) return tonumber(string.match(id, '^(%d+)-')) end
        local function field(fields, name)
          for i = 1, #fields, 2 do if fields[i] == name then return fields[i + 1] end end
        end

        -- The stream's state {epoch, head, first, bytes}. Meta missing or incomplete, a head entry
        -- that is not the stream's last entry, or entries without meta: a new epoch, never a
        -- restart of the counter within one. `bytes` is the entry JSON the stream holds (0 where
        -- a stream written before the byte budget has no count yet: it counts from then on).
        local function open()
          local m = redis.call('HMGET', META, 'e', 'h', 'f', 'b')
          local epoch, head, first, bytes = m[1], tonumber(m[2]), tonumber(m[3]), tonumber(m[4]) or 0
          local sound = epoch and head and first and first >= 1 and first <= head + 1
          if sound then
            local top = redis.call('XREVRANGE', STREAM, '+', '-', 'COUNT', 1)[1]
            if head > 0 then sound = top ~= nil and seq_of(top[1]) == head else sound = top == nil end
          end
          if sound then return {epoch = epoch, head = head, first = first, bytes = bytes} end
          redis.call('DEL', STREAM, IDS, MARKS, LAST, CONVS, READ, DEVICES)
          redis.call('HSET', META, 'e', ARGV[1], 'h', 0, 'f', 1, 'b', 0)
          return {epoch = ARGV[1], head = 0, first = 1, bytes = 0}
        end

        -- The key of an entry in IDS (messages, group changes and rejections); nil for watermark kinds.
        local function logical_id(kind, conv, cseq, msg)
          if (kind == 'message' or kind == 'group') and conv and cseq then return conv .. '#' .. int(cseq) end
          if kind == 'rejected' and msg then return 'rej#' .. msg end
        end

        -- Trims a prefix, never the head entry: beyond MAX_ENTRIES (at most MAX_TRIMMED per
        -- step), older than the retention (among the AGED_LOOKED_AT oldest) and beyond MAX_BYTES
        -- of entry JSON (among the MAX_TRIMMED oldest after those); their ids leave IDS.
        local function trim(s)
          local upto = s.first - 1
          if s.head - upto > MAX_ENTRIES then upto = math.min(s.head - MAX_ENTRIES, upto + MAX_TRIMMED) end
          local cutoff, start = NOW - RETENTION, int(upto + 1) .. '-0'
          local function expired(entry)
            return seq_of(entry[1]) < s.head and tonumber(field(entry[2], 't')) < cutoff
          end
          local oldest = redis.call('XRANGE', STREAM, start, '+', 'COUNT', 1)[1]
          if oldest and expired(oldest) then
            for _, entry in ipairs(redis.call('XRANGE', STREAM, start, '+', 'COUNT', AGED_LOOKED_AT)) do
              if not expired(entry) then break end
              upto = seq_of(entry[1])
            end
          end
          local ids, bytes = {}, s.bytes
          local function drop(entry)
            local json = field(entry[2], 'e') or ''
            bytes = bytes - #json
            local ok, e = pcall(cjson.decode, json)
            local id = ok and logical_id(e.type, e.conv, e.cseq, e.msg)
            if id then ids[#ids + 1] = id end
          end
          if upto >= s.first then
            for _, entry in ipairs(redis.call('XRANGE', STREAM, '-', int(upto) .. '-0')) do drop(entry) end
          end
          if bytes > MAX_BYTES then
            for _, entry in ipairs(redis.call('XRANGE', STREAM, int(upto + 1) .. '-0', '+', 'COUNT', MAX_TRIMMED)) do
              if bytes <= MAX_BYTES or seq_of(entry[1]) >= s.head then break end
              drop(entry)
              upto = seq_of(entry[1])
            end
          end
          if upto < s.first then return end
          if #ids > 0 then redis.call('HDEL', IDS, unpack(ids)) end
          redis.call('XTRIM', STREAM, 'MINID', int(upto + 1) .. '-0')
          s.first, s.bytes = upto + 1, math.max(bytes, 0)
          redis.call('HSET', META, 'f', int(s.first), 'b', int(s.bytes))
        end

        -- Appends an entry unless its logical id or watermark has it already. Returns its seq and
        -- 0, or for a duplicate the seq it has (0 under a watermark: nothing to deliver) and 1.
        -- Messages and group changes move the conversation up the list (only messages are its
        -- `last`); `own` (the user's message, or the group change that made the user a member)
        -- moves the read cursor to it.
        local function append(s, kind, conv, cseq, msg, status, by, own, json)
          local id = logical_id(kind, conv, cseq, msg)
          if id then
            local seq = redis.call('HGET', IDS, id)
            if seq then return tonumber(seq), 1 end
          else
            local mark = conv .. '|' .. status .. '|' .. by
            if cseq <= (tonumber(redis.call('HGET', MARKS, mark)) or 0) then return 0, 1 end
            redis.call('HSET', MARKS, mark, int(cseq))
          end
          local seq = s.head + 1
          redis.call('XADD', STREAM, int(seq) .. '-0', 'e', json, 't', int(NOW))
          s.head, s.bytes = seq, s.bytes + #json
          redis.call('HSET', META, 'h', int(seq), 'b', int(s.bytes))
          if id then redis.call('HSET', IDS, id, int(seq)) end
          if kind == 'message' or kind == 'group' then
            if kind == 'message' then
              local last = redis.call('HGET', LAST, conv)
              if not last or cseq > tonumber(string.match(last, '^%d+')) then
                redis.call('HSET', LAST, conv, int(cseq) .. ' ' .. int(seq))
              end
            end
            redis.call('ZADD', CONVS, int(seq), conv)
            if own and cseq > (tonumber(redis.call('HGET', READ, conv)) or 0) then
              redis.call('HSET', READ, conv, int(cseq))
            end
          end
          trim(s)
          return seq, 0
        end

        -- reply followed by the subscribed sessions: session, '<edge> <device> <since ms>', ...
        local function with_subscribers(reply)
          for _, item in ipairs(redis.call('HGETALL', SUBS)) do reply[#reply + 1] = item end
          return reply
        end

        -- A device's cursor; the legacy device has 0 until it has one, other devices nil.
        local function cursor_of(device)
          local cursor = tonumber(redis.call('HGET', DEVICES, device))
          if not cursor and device == LEGACY_DEVICE then return 0 end
          return cursor
        end

        -- Sets a device's cursor; a new device beyond MAX_DEVICES evicts the lowest cursor.
        local function set_cursor(device, cursor)
          if redis.call('HEXISTS', DEVICES, device) == 0 then
            while redis.call('HLEN', DEVICES) >= MAX_DEVICES do
              local all, lowest, low = redis.call('HGETALL', DEVICES), nil, nil
              for i = 1, #all, 2 do
                local c = tonumber(all[i + 1]) or 0
                if not low or c < low then lowest, low = all[i], c end
              end
              redis.call('HDEL', DEVICES, lowest)
            end
          end
          redis.call('HSET', DEVICES, device, int(cursor))
        end

        """
}
