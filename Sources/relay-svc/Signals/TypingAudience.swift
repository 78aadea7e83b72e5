import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// Who a typing signal is for: the other current members of its conversation. A dm's are read
/// from its id (nobody while the dm has a block); a group's from its keys on the `{conv}` slot
/// (relay-svc's), for the whole batch in at most two round trips: the dms' blocks and the size
/// and the typers' records of every group, then the members of the groups small enough for
/// typing. Blocks do not hide typing in groups (docs/security.md).
struct TypingAudience {
    /// What became of one (conversation, typer).
    enum Outcome: Equatable {
        /// The other current members (possibly none).
        case members([String])
        /// The typer is not a member.
        case notMember
        /// A group over `--typing-max-members`: no typing there.
        case tooLarge
        /// A dm one of whose users blocks the other: no typing there.
        case blocked
    }

    private var groups: [String: GroupView] = [:]
    private var blockedDirects: Set<String> = []

    private struct GroupView {
        var count: Int
        /// Typer → whether it is a current member.
        var typers: [String: Bool]
        /// Current members; read only when the group is small enough and a typer is a member.
        var members: [String] = []
    }

    /// Reads what the typers of `typersByGroup` (conversation → its typers) and of the dms
    /// `directs` need to know.
    static func read(_ typersByGroup: [(conv: String, typers: [String])], directs: Set<String>, maxMembers: Int,
                     redis: RedisClient) async throws -> TypingAudience {
        var audience = TypingAudience()
        guard !typersByGroup.isEmpty || !directs.isEmpty else { return audience }
        var sizes = RedisPipeline()
        let blocks = directs.map { ($0, sizes.add(.scard(RedisKeys.ConversationKeys($0).blocks))) }
        let calls = typersByGroup.map { group in
            (count: sizes.add(GroupCommands.count(of: group.conv)), records: sizes.add(GroupCommands.members(group.typers, of: group.conv)))
        }
        let sizeReplies = try await redis.send(sizes)
        for (conv, call) in blocks where try sizeReplies[call] > 0 { audience.blockedDirects.insert(conv) }
        var roster = RedisPipeline()
        var rosterCalls: [(conv: String, entry: RedisPipeline.Entry<[String]>)] = []
        for (group, call) in zip(typersByGroup, calls) {
            let records = try sizeReplies[call.records]
            var view = GroupView(count: try sizeReplies[call.count], typers: [:])
            for (typer, record) in zip(group.typers, records) { view.typers[typer] = record?.isMember ?? false }
            audience.groups[group.conv] = view
            if view.count <= maxMembers, view.typers.values.contains(true) {
                rosterCalls.append((group.conv, roster.add(GroupCommands.current(of: group.conv))))
            }
        }
        guard !roster.isEmpty else { return audience }
        let rosterReplies = try await redis.send(roster)
        for call in rosterCalls {
            audience.groups[call.conv]?.members = try rosterReplies[call.entry]
        }
        return audience
    }

    /// Who `typer`'s signal in `conv` is for.
    func outcome(conv: String, typer: String, maxMembers: Int) -> Outcome {
        if !conv.hasPrefix("g:") {
            guard let peer = Conversation.peer(in: conv, of: typer) else { return .notMember }
            if blockedDirects.contains(conv) { return .blocked }
            return .members(peer == typer ? [] : [peer])
        }
        guard let group = groups[conv], group.typers[typer] == true else { return .notMember }
        guard group.count <= maxMembers else { return .tooLarge }
        return .members(group.members.filter { $0 != typer })
    }
}
