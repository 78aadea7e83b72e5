import ParleyBackend
import ParleyProtocol
import ParleyRedis
import ParleyServiceKit

// Helpers of the relay-svc group suites: group changes as the edge writes them, and the
// group's keys in Redis.

/// A new group id.
func newGroup() -> String { "g:" + uniqueID("group") }

/// A group change as the edge sends it (a fresh op id; `id` a fresh client id unless given).
func groupChange(_ action: GroupOperation.Action, in conv: String, by: String, members: [String] = [], title: String? = nil,
                 id: String? = nil) -> GroupOperation {
    let op = MessageID.make()
    return GroupOperation(op: op, action: action, conv: conv, by: by, id: id ?? uniqueID("c"), title: title, members: members,
                          ts: MessageID.unixMilliseconds(of: op) ?? UnixTime.nowMilliseconds)
}

/// The edge's record of a group change (key: conv).
func inbound(_ change: GroupOperation) -> InboundEnvelope {
    InboundEnvelope(group: change, edge: "edge-x", session: "s1", device: "d1")
}

/// The group's members hash as stored (user → ``GroupMemberRecord`` value).
func groupMembers(_ redis: RedisClient, _ conv: String) async throws -> [String: String] {
    try await redis.send(.hgetall(RedisKeys.ConversationKeys(conv).members))
}

/// The groups `user` is in, as relay-svc's set has them.
func groupsOf(_ redis: RedisClient, _ user: String) async throws -> Set<String> {
    try await redis.send(.smembers(RedisKeys.groups(user)))
}
