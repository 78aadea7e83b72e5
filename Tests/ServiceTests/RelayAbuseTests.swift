import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import Relay
import Testing

/// Blocks, message requests and send quotas through a router the test drives batch by batch
/// (real broker and redis-server of the shared relay stack): what is refused, with which
/// `rejected` entry, and that nothing refused is stored.
extension RelayServiceTests {
    func router(_ stack: ServiceStack, admission: AdmissionLimits, maxMembers: Int = 1000) -> MessageRouter {
        MessageRouter(topics: stack.topics, redis: stack.redis, producer: stack.producer.producer, dedupTTL: .seconds(60),
                      retention: ConversationRetention(maxEntries: 100, age: .seconds(3600)),
                      groupLimits: GroupLimits(maxMembers: maxMembers, maxGroupsPerUser: 500), admissionLimits: admission,
                      inboxPartitions: testTopicPartitions, logger: serviceLogger("router"))
    }

    func blockOperation(_ by: String, _ user: String, blocks: Bool = true) -> InboundEnvelope {
        let op = MessageID.make()
        return InboundEnvelope(block: BlockOperation(op: op, blocks: blocks, by: by, user: user, id: uniqueID("b"), ts: UnixTime.nowMilliseconds),
                               edge: "edge-x", session: "s1", device: "d1")
    }

    func rejected(_ message: ChatMessage, _ code: ErrorCode, _ reason: String) -> StreamEntry {
        StreamEntry(kind: .rejected, msg: message.msg, conv: message.conv, cseq: 0, id: message.id, code: code, reason: reason)
    }

    @Test("a block refuses the dm both ways (blocked, with who blocked in the reason) and stores nothing; after unblock messages flow again, in the conversation's order")
    func blockAndUnblock() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let router = router(stack, admission: .none)
        let (alice, bob) = usersOnTwoPartitions("alice", "bob")
        let conv = Conversation.direct(alice, bob)
        let inbox = try await TopicReader.start(stack.topics.inbox, partitions: testTopicPartitions)

        let before = chatMessage(in: conv, from: bob, body: "hello")
        let spam = chatMessage(in: conv, from: bob, body: "spam")
        let mine = chatMessage(in: conv, from: alice, body: "can I?")
        // One batch: the block takes effect between `before` and `spam`.
        try await router.routeInbound(batch([inbound(before), blockOperation(alice, bob), inbound(spam), inbound(mine)], topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [spam.msg, mine.msg], count: 2)
        let entries = inbox.inboxEntries
        #expect(entries.filter { $0.user == alice }.map(\.entry) == [.message(before.stored(at: 1)),
                                                                     rejected(mine, .blocked, "you blocked \(bob): unblock to send")])
        #expect(entries.filter { $0.user == bob }.map(\.entry) == [.message(before.stored(at: 1)),
                                                                   rejected(spam, .blocked, "\(alice) has blocked you")])
        #expect(try await conversationLog(stack.redis, conv).map(\.message) == [before.stored(at: 1)], "nothing refused is stored")
        #expect(try await stack.redis.send(.smembers(RedisKeys.ConversationKeys(conv).blocks)) == [alice])

        let after = chatMessage(in: conv, from: bob, body: "sorry")
        try await router.routeInbound(batch([blockOperation(alice, bob, blocks: false), inbound(after)], topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [after.msg], count: 2)
        #expect(try await conversationLog(stack.redis, conv).map(\.message) == [before.stored(at: 1), after.stored(at: 2)])
        #expect(try await stack.redis.send(.smembers(RedisKeys.ConversationKeys(conv).blocks)).isEmpty)
        await inbox.stop()
    }

    @Test("a block ends the watches between the two users: an unwatch to each edge holding a session of either, none for an unblock")
    func blockEndsWatches() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let router = router(stack, admission: .none)
        let (alice, bob) = usersOnTwoPartitions("alice", "bob")
        let carol = uniqueID("carol")
        let edges = [uniqueID("e1"), uniqueID("e2"), uniqueID("e3")]
        try await createDeliverTopics(stack.topics, edges: edges)
        var started: [TopicReader] = []
        for edge in edges { started.append(try await TopicReader.start(stack.topics.deliver(edge: edge))) }
        let readers = started
        let got: @Sendable () -> [[DeliverEnvelope]] = { readers.map { $0.decoded(DeliverEnvelope.self).map(\.value) } }
        _ = try await stack.redis.send(.hset(RedisKeys.presence(alice), ["sa": edges[0]]))
        _ = try await stack.redis.send(.hset(RedisKeys.presence(bob), ["sb1": edges[1], "sb2": edges[2]]))

        try await router.routeInbound(batch([blockOperation(alice, bob, blocks: false), blockOperation(alice, bob)], topics: stack.topics))
        try await waitUntil("an unwatch on every edge") { got().allSatisfy { !$0.isEmpty } }
        // An unblock, then blocks of carol (who is offline) by alice and by bob: markers on every
        // edge, produced after whatever the unblock could have sent there.
        try await router.routeInbound(batch([blockOperation(alice, bob, blocks: false)], topics: stack.topics))
        try await router.routeInbound(batch([blockOperation(alice, carol), blockOperation(bob, carol)], topics: stack.topics))
        try await waitUntil("the unwatches of carol") { got().allSatisfy { $0.last?.unwatch == [carol] } }
        #expect(got()[0] == [DeliverEnvelope(user: alice, unwatch: [bob]), DeliverEnvelope(user: alice, unwatch: [carol])])
        #expect(got()[1] == [DeliverEnvelope(user: bob, unwatch: [alice]), DeliverEnvelope(user: bob, unwatch: [carol])])
        #expect(got()[2] == [DeliverEnvelope(user: bob, unwatch: [alice]), DeliverEnvelope(user: bob, unwatch: [carol])])
        for reader in readers { await reader.stop() }
    }

    @Test("nobody is added to a group (create or add) by a user they block: the change is refused with blocked and nobody joins; others still add them")
    func groupAddByBlockedUser() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let router = router(stack, admission: .none)
        let alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol")
        let inbox = try await TopicReader.start(stack.topics.inbox, partitions: testTopicPartitions)
        try await router.routeInbound(batch([blockOperation(bob, alice)], topics: stack.topics))

        let refusedCreate = groupChange(.create, in: newGroup(), by: alice, members: [carol, bob], title: "Trap")
        let conv = newGroup()
        let create = groupChange(.create, in: conv, by: alice, members: [carol], title: "Team")
        let add = groupChange(.add, in: conv, by: alice, members: [bob])
        try await router.routeInbound(batch([inbound(refusedCreate), inbound(create), inbound(add)], topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [add.op], count: 1)
        let aliceEntries = inbox.inboxEntries.filter { $0.user == alice }.map(\.entry)
        #expect(aliceEntries.contains(rejected(refusedCreate, .blocked).withReason("a user you add has blocked you")))
        #expect(aliceEntries.contains(rejected(add, .blocked).withReason("a user you add has blocked you")))
        #expect(try await groupMembers(stack.redis, refusedCreate.conv).isEmpty)
        #expect(try await groupMembers(stack.redis, conv) == [alice: "admin 1-0", carol: "member 1-0"])

        // carol, made admin by nobody, cannot add; alice makes her admin by leaving, then carol adds bob.
        let leave = groupChange(.leave, in: conv, by: alice)
        let carolAdds = groupChange(.add, in: conv, by: carol, members: [bob])
        try await router.routeInbound(batch([inbound(leave), inbound(carolAdds)], topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [carolAdds.op], count: 2)
        #expect(try await groupMembers(stack.redis, conv)[bob] == "member 3-0", "blocking alice does not keep bob out of carol's adds")
        await inbox.stop()
    }

    @Test("a stranger's dm messages stop at the message request limit with quota_exceeded naming the limit; a reply lifts it for good")
    func messageRequests() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let router = router(stack, admission: AdmissionLimits(messageRequestLimit: 3, quotas: .none))
        let (stranger, victim) = usersOnTwoPartitions("stranger", "victim")
        let conv = Conversation.direct(stranger, victim)
        let inbox = try await TopicReader.start(stack.topics.inbox, partitions: testTopicPartitions)

        let requests = (0..<5).map { chatMessage(in: conv, from: stranger, body: "buy \($0)") }
        try await router.routeInbound(batch(requests.map(inbound), topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [requests[2].msg, requests[4].msg], count: 3)
        let reason = "message request limit: at most 3 messages until \(victim) replies"
        #expect(inbox.inboxEntries.filter { $0.user == stranger }.map(\.entry).suffix(2)
                == [rejected(requests[3], .quotaExceeded, reason), rejected(requests[4], .quotaExceeded, reason)])
        #expect(inbox.inboxEntries.filter { $0.user == victim }.map(\.entry)
                == requests.prefix(3).enumerated().map { .message($1.stored(at: UInt64($0 + 1))) }, "the victim's stream holds 3, no more")

        let reply = chatMessage(in: conv, from: victim, body: "who is this?")
        let more = (0..<4).map { chatMessage(in: conv, from: stranger, body: "hi \($0)") }
        try await router.routeInbound(batch([inbound(reply)] + more.map(inbound), topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [more[3].msg], count: 2)
        #expect(try await conversationLog(stack.redis, conv).count == 3 + 1 + 4)
        await inbox.stop()
    }

    @Test("send quotas count deliveries (a group message each other member), refuse with quota_exceeded naming the limit before anything is stored, never charge a replay; the victim's messages stay")
    func sendQuota() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let router = router(stack, admission: AdmissionLimits(messageRequestLimit: 0, quotas: SendQuotas(perMinute: 5, perDay: 100)), maxMembers: 5)
        let (flooder, victim) = usersOnTwoPartitions("flooder", "victim")
        let carol = uniqueID("carol")
        let dm = Conversation.direct(flooder, victim), group = newGroup()
        let inbox = try await TopicReader.start(stack.topics.inbox, partitions: testTopicPartitions)

        let real = chatMessage(in: dm, from: victim, body: "a real message")
        let create = groupChange(.create, in: group, by: victim, members: [flooder, carol], title: "Three")
        try await router.routeInbound(batch([inbound(real), inbound(create)], topics: stack.topics))

        // 2 + 2 + 1 = 5 deliveries fit; the next dm does not, nor does the one after.
        let sends = [chatMessage(in: group, from: flooder, body: "g1"), chatMessage(in: group, from: flooder, body: "g2"),
                     chatMessage(in: dm, from: flooder, body: "d1"), chatMessage(in: dm, from: flooder, body: "d2"),
                     chatMessage(in: dm, from: flooder, body: "d3")]
        let records = batch(sends.map(inbound), topics: stack.topics)
        try await router.routeInbound(records)
        _ = try await inbox.waitForEntries(of: [sends[4].msg], count: 1)
        let reason = "send quota: at most 5 deliveries per minute"
        let flooderEntries = inbox.inboxEntries.filter { $0.user == flooder }.map(\.entry)
        #expect(flooderEntries.suffix(2) == [rejected(sends[3], .quotaExceeded, reason), rejected(sends[4], .quotaExceeded, reason)])
        #expect(try await conversationLog(stack.redis, dm).map(\.message.body) == ["a real message", "d1"], "the refused are not stored, the real one stays")
        #expect(try await stack.redis.send(.hget(RedisKeys.sendQuota(flooder), "mc")) == "5")

        // The batch routed again (a crash before its commit): the stored ones are duplicates, not
        // charged again and emitted again as messages; the refused ones are refused again.
        try await router.routeInbound(records)
        let msgs = Set(sends.map(\.msg))
        let again = try await inbox.waitForEntries("the replay's entries") { entries in
            let mine = entries.filter { $0.user == flooder && $0.entry.msg.map(msgs.contains) == true }
            return mine.count >= 10 ? mine : nil
        }
        for (index, send) in sends.enumerated() {
            #expect(again.filter { $0.entry.msg == send.msg }.map(\.entry.kind) == Array(repeating: index < 3 ? .message : .rejected, count: 2))
        }
        #expect(try await stack.redis.send(.hget(RedisKeys.sendQuota(flooder), "mc")) == "5")
        await inbox.stop()
    }
}

extension StreamEntry {
    func withReason(_ reason: String) -> StreamEntry {
        var entry = self
        entry.reason = reason
        return entry
    }
}
