import ParleyBackend
import ParleyProtocol
import ParleyRedis
import ParleyTestSupport
import Testing

/// Who may watch whom: a query answers only the users who share a conversation with the watcher
/// (itself, a dm peer in its conversation list, a current co-member of one of its groups). The
/// test writes offline-svc's and relay-svc's keys in their documented formats.
extension PresenceServiceTests {
    @Test("a query answers the watcher itself, dm peers and current group co-members; strangers and former members are refused")
    func watchRestrictedToSharedConversations() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let watcher = uniqueID("wanda"), stranger = uniqueID("sam"), peer = uniqueID("pia"), member = uniqueID("gil")
        let former = uniqueID("fred"), edge = uniqueID("edge")
        let group = "g:" + uniqueID("group"), otherGroup = "g:" + uniqueID("group")
        try await createDeliverTopics(stack.topics, edges: [edge])
        let deliver = try await TopicReader.start(stack.topics.deliver(edge: edge))
        let reader = try await TopicReader.start(stack.topics.presenceChanges, partitions: 2)

        // offline-svc's conversation list of the watcher has the dm with `peer`.
        _ = try await stack.redis.send(.zadd(RedisKeys.StreamKeys(watcher).conversations,
                                             [RedisScoredMember(member: Conversation.direct(watcher, peer), score: 3)]))
        // relay-svc's groups of the watcher; `member` is in `group` now, `former` left it at cseq 4,
        // and `stranger` is in a group the watcher is not in.
        _ = try await stack.redis.send(.sadd(RedisKeys.groups(watcher), [group]))
        _ = try await stack.redis.send(.hset(RedisKeys.ConversationKeys(group).members,
                                             [watcher: "admin 1-0", member: "member 1-0", former: "member 1-4"]))
        _ = try await stack.redis.send(.hset(RedisKeys.ConversationKeys(otherGroup).members, [stranger: "admin 1-0"]))

        // The peer has been online and left; the member and the stranger are online.
        let left = UnixTime.nowMilliseconds
        try await sendPresence(stack, .connect, edge: edge, user: watcher, session: "w1")
        try await sendPresence(stack, .connect, edge: edge, user: peer, session: "p1")
        try await sendPresence(stack, .disconnect, edge: edge, user: peer, session: "p1", ts: left)
        try await sendPresence(stack, .connect, edge: edge, user: member, session: "m1")
        try await sendPresence(stack, .connect, edge: edge, user: stranger, session: "s1")
        try await sendPresence(stack, .connect, edge: edge, user: former, session: "f1")
        try await sendPresence(stack, .query, edge: edge, user: watcher, session: "w1",
                               users: [stranger, watcher, peer, member, former])
        try await sendPresence(stack, .query, edge: edge, user: watcher, session: "w2", users: [stranger])
        try await sendPresence(stack, .query, edge: edge, user: watcher, session: "w3", users: [member, peer])
        func answer(_ session: String) async throws -> DeliverEnvelope {
            try await deliver.waitFor(DeliverEnvelope.self, "the answer to \(session)") {
                $0.first { $0.value.user == watcher && $0.value.sessions == [session] }?.value
            }
        }

        let mixed = try await answer("w1")
        #expect(mixed.presence == [PresenceStatus(user: watcher, status: .online), PresenceStatus(user: peer, status: .offline, lastSeen: left),
                                   PresenceStatus(user: member, status: .online)])
        #expect(mixed.watch == [watcher, peer, member])
        #expect(mixed.error == ProtocolError(.forbidden, "not allowed to watch 2 users: no shared conversation"))

        let refused = try await answer("w2")
        #expect(refused.presence.isEmpty, "a stranger's status is not told")
        #expect(refused.watch == [])
        #expect(refused.error == ProtocolError(.forbidden, "not allowed to watch 1 user: no shared conversation"))

        let allowed = try await answer("w3")
        #expect(allowed.presence == [PresenceStatus(user: member, status: .online), PresenceStatus(user: peer, status: .offline, lastSeen: left)])
        #expect(allowed.watch == [member, peer])
        #expect(allowed.error == nil)

        // The other services' keys were only read.
        #expect(try await stack.redis.send(.hgetall(RedisKeys.ConversationKeys(group).members))
                == [watcher: "admin 1-0", member: "member 1-0", former: "member 1-4"])
        try await sendPresence(stack, .edgeStopped, edge: edge)
        _ = try await waitForPresenceChanges(of: former, count: 2, in: reader)
        _ = try await stack.redis.send(.zrem(RedisKeys.edges, [edge]))
        for key in [RedisKeys.StreamKeys(watcher).conversations, RedisKeys.groups(watcher), RedisKeys.ConversationKeys(group).members,
                    RedisKeys.ConversationKeys(otherGroup).members] {
            _ = try await stack.redis.send(.del([key]))
        }
        await reader.stop()
        await deliver.stop()
    }

    @Test("a block in either direction refuses a watch of a dm peer, even one who shares a group; the refusal reads like a stranger's")
    func blockedPeersAreNotWatched() async throws {
        let stack = try sharedStack(PresenceShared.stack)
        let watcher = uniqueID("wanda"), blocker = uniqueID("bea"), blocked = uniqueID("bo"), edge = uniqueID("edge")
        let group = "g:" + uniqueID("group")
        try await createDeliverTopics(stack.topics, edges: [edge])
        let deliver = try await TopicReader.start(stack.topics.deliver(edge: edge))
        for peer in [blocker, blocked] {
            _ = try await stack.redis.send(.zadd(RedisKeys.StreamKeys(watcher).conversations,
                                                 [RedisScoredMember(member: Conversation.direct(watcher, peer), score: 1)]))
        }
        _ = try await stack.redis.send(.sadd(RedisKeys.groups(watcher), [group]))
        _ = try await stack.redis.send(.hset(RedisKeys.ConversationKeys(group).members,
                                             [watcher: "admin 1-0", blocker: "member 1-0", blocked: "member 1-0"]))
        // `blocker` blocks the watcher; the watcher blocks `blocked`.
        _ = try await stack.redis.send(.sadd(RedisKeys.ConversationKeys(Conversation.direct(watcher, blocker)).blocks, [blocker]))
        _ = try await stack.redis.send(.sadd(RedisKeys.ConversationKeys(Conversation.direct(watcher, blocked)).blocks, [watcher]))

        try await sendPresence(stack, .connect, edge: edge, user: blocker, session: "b1")
        try await sendPresence(stack, .query, edge: edge, user: watcher, session: "w1", users: [blocker, blocked, watcher])
        let answer = try await deliver.waitFor(DeliverEnvelope.self, "the answer") {
            $0.first { $0.value.user == watcher && $0.value.sessions == ["w1"] }?.value
        }
        #expect(answer.watch == [watcher])
        #expect(answer.presence.map(\.user) == [watcher])
        #expect(answer.error == ProtocolError(.forbidden, "not allowed to watch 2 users: no shared conversation"))
        await deliver.stop()
    }
}
