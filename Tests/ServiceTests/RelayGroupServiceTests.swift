import ParleyBackend
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import Relay
import Testing

/// Groups through relay-svc: the running service on the shared stack, or a router the test
/// drives batch by batch (so it knows what one batch holds and can route it again).
extension RelayServiceTests {
    func router(_ stack: ServiceStack, _ limits: GroupLimits = GroupLimits(maxMembers: 1000, maxGroupsPerUser: 500)) -> MessageRouter {
        MessageRouter(topics: stack.topics, redis: stack.redis, producer: stack.producer.producer, dedupTTL: .seconds(60),
                      retention: ConversationRetention(maxEntries: 100, age: .seconds(3600)), groupLimits: limits,
                      inboxPartitions: testTopicPartitions, logger: serviceLogger("router"))
    }

    /// One batch of `chat.inbound` records as the consumer hands them to the router.
    func batch(_ envelopes: [InboundEnvelope], topics: Topics) -> [KafkaRecord] {
        envelopes.enumerated().map { index, envelope in
            KafkaRecord(topic: topics.inbound, partition: 0, offset: Int64(index), key: Array(envelope.conv.utf8),
                        value: Envelope.encode(envelope), timestamp: nil)
        }
    }

    /// The `group` entry of `change` at `cseq` as `user` gets it.
    func groupEntry(_ change: GroupOperation, cseq: UInt64, for user: String, _ event: StreamEntry.GroupEvent, _ members: [String],
                    title: String?, admin: String? = nil) -> StreamEntry {
        StreamEntry(kind: .group, msg: change.op, conv: change.conv, cseq: cseq, by: change.by, ts: change.ts,
                    id: user == change.by ? change.id : nil, event: event, members: members, title: title, admin: admin)
    }

    func rejected(_ change: GroupOperation, _ code: ErrorCode) -> StreamEntry {
        StreamEntry(kind: .rejected, msg: change.op, conv: change.conv, cseq: 0, id: change.id, code: code)
    }

    @Test("one batch of message, add, message, remove, message: each entry reaches exactly the members of its cseq; the batch routed again emits identical entries")
    func groupBatchByCseq() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let router = router(stack)
        let conv = newGroup()
        let (alice, bob) = usersOnTwoPartitions("alice", "bob")
        let carol = uniqueID("carol")
        let inbox = try await TopicReader.start(stack.topics.inbox, partitions: testTopicPartitions)

        let create = groupChange(.create, in: conv, by: alice, members: [bob], title: "Trio")
        try await router.routeInbound(batch([inbound(create)], topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [create.op], count: 2)

        let one = chatMessage(in: conv, from: alice, body: "one"), two = chatMessage(in: conv, from: bob, body: "two")
        let three = chatMessage(in: conv, from: carol, body: "three")
        let add = groupChange(.add, in: conv, by: alice, members: [carol]), remove = groupChange(.remove, in: conv, by: alice, members: [bob])
        let records = batch([inbound(one), inbound(add), inbound(two), inbound(remove), inbound(three)], topics: stack.topics)
        let ids = [one.msg, add.op, two.msg, remove.op, three.msg]
        func entries(for user: String) -> [StreamEntry] {
            var entries: [StreamEntry] = []
            if user != carol { entries.append(.message(one.stored(at: 2))) }
            entries += [groupEntry(add, cseq: 3, for: user, .added, [carol], title: "Trio"), .message(two.stored(at: 4)),
                        groupEntry(remove, cseq: 5, for: user, .removed, [bob], title: "Trio")]
            if user != bob { entries.append(.message(three.stored(at: 6))) }
            return entries
        }

        try await router.routeInbound(records)
        let once = try await inbox.waitForEntries(of: ids, count: 13)
        for user in [alice, bob, carol] {
            #expect(once.filter { $0.user == user }.map(\.entry) == entries(for: user), "\(user)'s entries")
        }
        // Routed again (a crash before the commit): bob is no member now, carol is; each entry
        // still goes to the members of its cseq.
        try await router.routeInbound(records)
        let twice = try await inbox.waitForEntries(of: ids, count: 26)
        for user in [alice, bob, carol] {
            #expect(twice.filter { $0.user == user }.map(\.entry) == entries(for: user) + entries(for: user), "\(user)'s entries twice")
            #expect(twice.filter { $0.user == user }.allSatisfy { $0.partition == StreamPartition.of(user, count: testTopicPartitions) })
        }
        #expect(try await conversationLog(stack.redis, conv).map(\.message) == [one.stored(at: 2), two.stored(at: 4), three.stored(at: 6)])
        #expect(try await groupsOf(stack.redis, alice) == [conv])
        #expect(try await groupsOf(stack.redis, carol) == [conv])
        #expect(try await groupsOf(stack.redis, bob) == [], "bob was removed")
        await inbox.stop()
    }

    @Test("through the running relay: a group's members get the create and each other's messages; a non-member's send becomes a rejected entry for it alone")
    func groupNonMember() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let topics = stack.topics
        let conv = newGroup()
        let alice = uniqueID("alice"), bob = uniqueID("bob"), mallory = uniqueID("mallory")
        let inbox = try await TopicReader.start(topics.inbox, partitions: testTopicPartitions)

        let create = groupChange(.create, in: conv, by: alice, members: [bob])
        let intruding = chatMessage(in: conv, from: mallory, body: "let me in"), fine = chatMessage(in: conv, from: bob, body: "just us")
        try await stack.producer.send(inbound(create), topic: topics.inbound, key: conv)
        try await stack.producer.send(batch: [inbound(intruding), inbound(fine)], topic: topics.inbound) { $0.conv }
        // One conversation's records are handled in order: once both have `fine` and mallory its
        // refusal, nothing more of either can follow.
        let intruder = intruding.msg, fineMsg = fine.msg
        _ = try await inbox.waitForEntries("fine for both, the intruder's refusal") { entries in
            entries.filter { $0.entry.msg == fineMsg }.count == 2 && entries.contains { $0.entry.msg == intruder } ? true : nil
        }

        let refusal = inbox.inboxEntries.filter { $0.entry.msg == intruding.msg }
        #expect(refusal.map(\.user) == [mallory])
        #expect(refusal.map(\.entry) == [StreamEntry(kind: .rejected, msg: intruding.msg, conv: conv, cseq: 0, id: intruding.id, code: .notMember)])
        for user in [alice, bob] {
            #expect(inbox.inboxEntries.filter { $0.user == user }.map(\.entry)
                    == [groupEntry(create, cseq: 1, for: user, .created, [alice, bob], title: nil), .message(fine.stored(at: 2))])
        }
        await inbox.stop()
    }

    @Test("over the most members a create or add is too_large; a user in the most groups cannot create or be added (forbidden) until it leaves one")
    func groupLimits() async throws {
        let stack = try sharedStack(RelayShared.stack)
        let router = router(stack, GroupLimits(maxMembers: 3, maxGroupsPerUser: 2))
        let alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol"), dave = uniqueID("dave")
        let inbox = try await TopicReader.start(stack.topics.inbox, partitions: testTopicPartitions)

        let first = groupChange(.create, in: newGroup(), by: carol, members: [dave])
        let second = groupChange(.create, in: newGroup(), by: alice, members: [carol])
        try await router.routeInbound(batch([inbound(first), inbound(second)], topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [first.op, second.op], count: 4)
        #expect(try await groupsOf(stack.redis, carol) == [first.conv, second.conv])

        let byFull = groupChange(.create, in: newGroup(), by: carol, members: [bob])
        let withFull = groupChange(.create, in: newGroup(), by: alice, members: [bob, carol])
        let addFull = groupChange(.add, in: first.conv, by: carol, members: [bob])
        let big = groupChange(.create, in: newGroup(), by: alice, members: [bob, carol, dave])
        let tooMany = groupChange(.add, in: second.conv, by: alice, members: [bob, dave])
        let refused = [byFull, withFull, big, tooMany]
        try await router.routeInbound(batch([byFull, withFull, addFull, big, tooMany].map(inbound), topics: stack.topics))
        _ = try await inbox.waitForEntries(of: (refused + [addFull]).map(\.op), count: 4 + 3)
        let refusals = inbox.inboxEntries.filter { refused.map(\.op).contains($0.entry.msg ?? "") }
        #expect(refusals.filter { $0.user == carol }.map(\.entry) == [rejected(byFull, .forbidden)])
        #expect(refusals.filter { $0.user == alice }.map(\.entry)
                == [rejected(withFull, .forbidden), rejected(big, .tooLarge), rejected(tooMany, .tooLarge)])
        #expect(Set(inbox.inboxEntries.filter { $0.entry.msg == addFull.op }.map(\.user)) == [bob, carol, dave], "bob was in one group only")

        // carol leaves one group: she may create again.
        let leave = groupChange(.leave, in: first.conv, by: carol)
        let again = groupChange(.create, in: newGroup(), by: carol, members: [bob])
        try await router.routeInbound(batch([inbound(leave)], topics: stack.topics))
        try await router.routeInbound(batch([inbound(again)], topics: stack.topics))
        _ = try await inbox.waitForEntries(of: [again.op], count: 2)
        #expect(try await groupsOf(stack.redis, carol) == [second.conv, again.conv])
        await inbox.stop()
    }
}
