import ParleyBackend
import ParleyProtocol
import ParleyRedis

/// A checked `members` query.
struct MembersRequest: Sendable, Equatable {
    let user: String
    let conv: String
    /// The page starts after this user id; nil for the first page.
    let after: String?

    init(_ query: QueryEnvelope) throws(ProtocolError) {
        guard let conv = query.conv, conv.hasPrefix("g:"), Conversation.isValid(conv) else {
            throw ProtocolError(.badRequest, "conv must be a group")
        }
        if let next = query.next, !Identifier.isValid(next) { throw ProtocolError(.badRequest, "next is malformed") }
        user = query.user
        self.conv = conv
        after = query.next
    }
}

extension ConversationQueries {
    /// Members in one `members` page.
    static let membersPageSize = 100

    /// A page of the group's current members, sorted by user id (byte order), each with its role,
    /// latest join and read cursor, for a current member only. Two round trips: the title and
    /// the members hash, then the read cursors of the page's members.
    func members(_ request: MembersRequest) async throws -> MembersPage {
        let keys = RedisKeys.ConversationKeys(request.conv)
        var pipeline = RedisPipeline()
        let title = pipeline.add(GroupCommands.title(of: request.conv))
        let stored = pipeline.add(.hgetall(keys.members))
        let replies = try await redis.send(pipeline)

        var current: [String: GroupMemberRecord] = [:]
        for (user, value) in try replies[stored] {
            guard let record = GroupMemberRecord(value) else {
                logger.warning("skipping malformed group member", metadata: [
                    "parley.conv": "\(request.conv)", "parley.user": "\(user)", "parley.value": "\(value)"])
                continue
            }
            if record.isMember { current[user] = record }
        }
        guard current[request.user] != nil else { throw ProtocolError(.notMember, "not a member of \(request.conv)") }

        let following = current.filter { user, _ in request.after.map { $0.utf8.lexicographicallyPrecedes(user.utf8) } ?? true }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        let page = following.prefix(Self.membersPageSize)
        let reads = page.isEmpty ? [] : try await redis.send(.hmget(keys.reads, page.map(\.key)))
        let members = zip(page, reads).map { member, read in
            GroupMemberInfo(user: member.key, role: member.value.role == .admin ? .admin : .member, joined: member.value.joined,
                            read: read.flatMap { UInt64(String(decoding: $0, as: UTF8.self)) } ?? 0)
        }
        return MembersPage(conv: request.conv, title: try replies[title], members: members,
                           next: following.count > page.count ? page.last?.key : nil)
    }
}
