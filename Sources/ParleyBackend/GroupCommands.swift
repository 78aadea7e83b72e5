import ParleyRedis

/// Typed reads of a group's keys on its `{conv}` slot, which relay-svc (the group's single
/// writer) owns; offline-svc's queries and reads, relay-svc's typing and presence-svc's watch rule
/// read memberships through these, so the stored format is read in one place
/// (``GroupMemberRecord``).
public enum GroupCommands {
    /// `user`'s record in `conv` (nil: never a member, or a value not in the format).
    public static func member(_ user: String, of conv: String) -> RedisCommand<GroupMemberRecord?> {
        RedisCommand<String?>.hget(RedisKeys.ConversationKeys(conv).members, user).map { $0.flatMap(GroupMemberRecord.init) }
    }

    /// The records of `users` in `conv`, in the order asked (nil as for ``member(_:of:)``).
    public static func members(_ users: [String], of conv: String) -> RedisCommand<[GroupMemberRecord?]> {
        RedisCommand<[[UInt8]?]>.hmget(RedisKeys.ConversationKeys(conv).members, users).map { values in
            values.map { $0.flatMap { GroupMemberRecord(String(decoding: $0, as: UTF8.self)) } }
        }
    }

    /// The current members of `conv`, sorted by user id.
    public static func current(of conv: String) -> RedisCommand<[String]> {
        RedisCommand<[String: String]>.hgetall(RedisKeys.ConversationKeys(conv).members).map { stored in
            stored.compactMap { user, value in GroupMemberRecord(value)?.isMember == true ? user : nil }.sorted()
        }
    }

    /// The users whose membership held `cseq` (an entry at `cseq` went to them), sorted.
    public static func members(at cseq: UInt64, of conv: String) -> RedisCommand<[String]> {
        RedisCommand<[String: String]>.hgetall(RedisKeys.ConversationKeys(conv).members).map { stored in
            stored.compactMap { user, value in GroupMemberRecord(value)?.holds(cseq) == true ? user : nil }.sorted()
        }
    }

    /// The number of current members (0 when there is no such group).
    public static func count(of conv: String) -> RedisCommand<Int> {
        RedisCommand<String?>.hget(RedisKeys.ConversationKeys(conv).meta, "count").map { $0.flatMap { Int($0) } ?? 0 }
    }

    /// The group's title (nil: none, or no such group).
    public static func title(of conv: String) -> RedisCommand<String?> {
        .hget(RedisKeys.ConversationKeys(conv).meta, "title")
    }
}
