// The group parts of the conversation step's Lua: the members hash and the membership changes.
extension ConversationLua {
    /// A group's members, read only for `g:` conversations (a dm's are the two users it names):
    /// user → `{role, spans, join, leave}` with the latest interval's ends (leave 0: a member
    /// now), in ``GroupMemberRecord``'s format (`spans` is everything after the role).
    static let roster = """
        local roster, count, creator, title, regrouped = {}, 0, false, false, false
        if GROUP then
          local m = redis.call('HMGET', META, 'by', 'title')
          creator, title = m[1], m[2]
          local flat = redis.call('HGETALL', MEMBERS)
          for i = 1, #flat, 2 do
            local role, spans = string.match(flat[i + 1], '^(%a+) (.+)$')
            local join, leave = string.match(spans, '(%d+)%-(%d+)$')
            roster[flat[i]] = {role = role, spans = spans, join = tonumber(join), leave = tonumber(leave)}
            if leave == '0' then count = count + 1 end
          end
        end

        local function is_member(user)
          local r = roster[user]
          return r ~= nil and r.leave == 0
        end
        local function is_admin(user) return is_member(user) and roster[user].role == 'admin' end
        local function save(user)
          local r = roster[user]
          redis.call('HSET', MEMBERS, user, r.role .. ' ' .. r.spans)
          regrouped = true
        end
        -- `user` joins at the current cseq (a new interval `n-0`).
        local function join(user, role)
          local r, span = roster[user], int(n) .. '-0'
          if r then r.spans = r.spans .. ',' .. span else r = {spans = span}; roster[user] = r end
          r.role, r.join, r.leave = role, n, 0
          count = count + 1
          save(user)
        end
        -- `user` leaves at the current cseq (its open interval's `-0` becomes `-n`).
        local function part(user)
          local r = roster[user]
          r.spans = string.sub(r.spans, 1, -2) .. int(n)
          r.leave = n
          count = count - 1
          save(user)
        end
        -- After a removal: if members remain but no admin, the member with the smallest current
        -- join (ties: lowest user id) becomes admin. Answers that user, or false.
        local function succession()
          local heir
          for user, r in pairs(roster) do
            if r.leave == 0 then
              if r.role == 'admin' then return false end
              local h = heir and roster[heir]
              if not h or r.join < h.join or (r.join == h.join and precedes(user, heir)) then heir = user end
            end
          end
          if not heir then return false end
          roster[heir].role = 'admin'
          save(heir)
          return heir
        end

        """

    /// The group changes. Each answers an error code, or the change's cseq, the user who became
    /// admin (or false) and whether it repeats an earlier change (a create seen again).
    /// `limited` holds the users at `--max-groups-per-user`: a change that would add one is
    /// refused with `forbidden`; `blockers` the `<by>\n<user>` pairs where `user` blocks `by`:
    /// a change by `by` that would add `user` is refused with `blocked`.
    static let changes = """
        -- `names` without repeats and without `except`, in their order.
        local function distinct(names, except)
          local seen, list = {}, {}
          for _, user in ipairs(names) do
            if user ~= except and not seen[user] then
              seen[user] = true
              list[#list + 1] = user
            end
          end
          return list
        end
        local function any_limited(users, limited)
          for _, user in ipairs(users) do
            if limited[user] then return true end
          end
          return false
        end

        local function any_blocker(by, users, blockers)
          for _, user in ipairs(users) do
            if blockers[by .. '\\n' .. user] then return true end
          end
          return false
        end

        local function create(by, names, new_title, limited, blockers)
          if creator then
            -- The same creator again (its dedup key expired): the create's cseq, its first join.
            if creator ~= by or not roster[by] then return 'forbidden' end
            return tonumber(string.match(roster[by].spans, '^(%d+)')), false, true
          end
          local users = distinct(names, by)
          table.insert(users, 1, by)
          if #users > MAX_MEMBERS then return 'too_large' end
          if any_limited(users, limited) then return 'forbidden' end
          if any_blocker(by, users, blockers) then return 'blocked' end
          n = n + 1
          for i, user in ipairs(users) do join(user, i == 1 and 'admin' or 'member') end
          creator = by
          redis.call('HSET', META, 'by', by)
          if new_title ~= '' then
            title = new_title
            redis.call('HSET', META, 'title', title)
          end
          return n, false, false
        end

        local function add(by, names, limited, blockers)
          if not is_member(by) then return 'not_member' end
          if not is_admin(by) then return 'forbidden' end
          local new = {}
          for _, user in ipairs(distinct(names)) do
            if not is_member(user) then new[#new + 1] = user end
          end
          if #new == 0 then return 'bad_request' end
          if count + #new > MAX_MEMBERS then return 'too_large' end
          if any_limited(new, limited) then return 'forbidden' end
          if any_blocker(by, new, blockers) then return 'blocked' end
          n = n + 1
          for _, user in ipairs(new) do join(user, 'member') end
          return n, false, false
        end

        local function remove(by, names)
          if not is_member(by) then return 'not_member' end
          if not is_admin(by) then return 'forbidden' end
          local gone = {}
          for _, user in ipairs(distinct(names)) do
            if is_member(user) then gone[#gone + 1] = user end
          end
          if #gone == 0 then return 'bad_request' end
          n = n + 1
          for _, user in ipairs(gone) do part(user) end
          return n, succession(), false
        end

        local function leave(by)
          if not is_member(by) then return 'not_member' end
          n = n + 1
          part(by)
          return n, succession(), false
        end

        -- One change with its dedup: answers an error code or {cseq, op, admin or false, repeat 0/1}.
        -- The dedup key holds `<cseq> <op>` and ` <admin>` when one was made.
        local function change(action, by, op, new_title, names, limited, blockers, dedup)
          if not GROUP then return 'bad_request' end
          local seen = redis.call('GET', dedup)
          if seen then
            local cseq, first, admin = string.match(seen, '^(%d+) (%S+) ?(%S*)$')
            return {tonumber(cseq), first, admin ~= '' and admin or false, 1}
          end
          local cseq, admin, again
          if action == 'create' then cseq, admin, again = create(by, names, new_title, limited, blockers)
          elseif action == 'add' then cseq, admin, again = add(by, names, limited, blockers)
          elseif action == 'remove' then cseq, admin, again = remove(by, names)
          elseif action == 'leave' then cseq, admin, again = leave(by)
          else return 'bad_request' end
          if type(cseq) == 'string' then return cseq end
          if not again then
            redis.call('SET', dedup, int(cseq) .. ' ' .. op .. (admin and (' ' .. admin) or ''), 'PX', TTL)
          end
          return {cseq, op, admin, again and 1 or 0}
        end

        """
}
