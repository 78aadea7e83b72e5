import Edge
import Foundation
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import Testing

enum EdgeGroupShared {
    static let stack = TaskLocal<ServiceStack?>(wrappedValue: nil)
    static let edgeID = uniqueID("edge-groups")
}

/// ws-edge alone with the group, typing and watch frames: what each produces (chat.inbound,
/// chat.queries, chat.signals), and what it does with relay-svc's and presence-svc's answers.
/// The typing interval is an hour, so a second signal is always within it.
@Suite("ws-edge groups, typing, watch", SharedStack(slot: EdgeGroupShared.stack, start: {
    try await ServiceStack.start("edge-groups") {
        try await startEdge(prefix: $0, edgeID: EdgeGroupShared.edgeID, extra: ["--typing-interval", "1h", "--max-group-members", "5"])
    }
}))
struct EdgeGroupTests {
    private var edgeID: String { EdgeGroupShared.edgeID }

    @Test("group_create: sent after the record is on chat.inbound, keyed by the derived g: id; members de-duplicated, without the creator")
    func groupCreate() async throws {
        let stack = try sharedStack(EdgeGroupShared.stack)
        let alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol")
        let (client, session) = try await connect(alice, port: stack.service.port, edgeID: edgeID, parameters: "device=laptop")

        client.send(#"{"type":"group_create","id":"g1","title":"Team","members":["\#(bob)","\#(alice)","\#(carol)","\#(bob)"]}"#)
        let sent = try await client.next()
        #expect(sent.type == "sent" && sent.id == "g1")
        let conv = try #require(sent.conv)
        let op = try #require(sent.msg)
        #expect(conv.hasPrefix("g:") && UUID(uuidString: String(conv.dropFirst(2))) != nil && conv == conv.lowercased())
        #expect(MessageID.isValid(op))

        // Right after `sent` a reader from the end does not see the create: it was stored before.
        let fromEnd = try await TopicReader.start(stack.topics.inbound, partitions: testTopicPartitions, from: .end)
        let marker = chatMessage(from: alice, to: bob, body: "marker")
        try await stack.producer.send(InboundEnvelope(message: marker, edge: "test", session: "t"), topic: stack.topics.inbound, key: marker.conv)
        let afterSent = try await fromEnd.waitFor(InboundEnvelope.self, "the marker") { records -> [InboundEnvelope]? in
            let mine = records.map(\.value).filter { $0.message?.from == alice || $0.group?.by == alice }
            return mine.contains { $0.message?.msg == marker.msg } ? mine : nil
        }
        #expect(afterSent.map(\.message?.msg) == [marker.msg], "the create was produced before `sent`")

        let fromStart = try await TopicReader.start(stack.topics.inbound, partitions: testTopicPartitions)
        let record = try await fromStart.waitFor(InboundEnvelope.self, "the create") { $0.first { $0.value.group?.op == op } }
        #expect(record.key == conv)
        #expect(record.value.group == GroupOperation(op: op, action: .create, conv: conv, by: alice, id: "g1", title: "Team",
                                                     members: [bob, carol], ts: try #require(sent.ts)))
        #expect(record.value.message == nil)
        #expect(record.value.edge == edgeID && record.value.session == session && record.value.device == "laptop")

        // A retry on another connection names the same group; another creator's g1 another one.
        let (retry, _) = try await connect(alice, port: stack.service.port, edgeID: edgeID)
        retry.send(#"{"type":"group_create","id":"g1","title":"Team","members":["\#(bob)"]}"#)
        #expect(try await retry.next().conv == conv)
        let (other, _) = try await connect(bob, port: stack.service.port, edgeID: edgeID)
        other.send(#"{"type":"group_create","id":"g1","title":"Team"}"#)
        let otherSent = try await other.next()
        #expect(otherSent.type == "sent" && otherSent.conv != conv && otherSent.conv?.hasPrefix("g:") == true)
        let bobs = try await fromStart.waitFor(InboundEnvelope.self, "bob's create") { $0.first { $0.value.group?.by == bob } }
        #expect(bobs.value.group?.members == [], "a create without members")

        await fromEnd.stop()
        await fromStart.stop()
        for c in [client, retry, other] { await c.disconnect() }
    }

    @Test("group_add, group_remove, group_leave: records keyed by conv with a fresh op; the client id, or the op without one; members asks chat.queries")
    func groupChanges() async throws {
        let stack = try sharedStack(EdgeGroupShared.stack)
        let offline = try await OfflineStandIn.start(topics: stack.topics, edgeID: edgeID, producer: stack.producer)
        let alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol")
        let conv = "g:" + UUID().uuidString.lowercased()
        let (client, session) = try await startedSession(alice, port: stack.service.port, edgeID: edgeID, offline: offline)
        let inbound = try await TopicReader.start(stack.topics.inbound, partitions: testTopicPartitions)

        client.send(#"{"type":"group_add","conv":"\#(conv)","members":["\#(bob)","\#(carol)","\#(bob)"],"id":"a1"}"#)
        client.send(#"{"type":"group_remove","conv":"\#(conv)","members":["\#(carol)"]}"#)
        client.send(#"{"type":"group_leave","conv":"\#(conv)","id":"l1"}"#)
        var sent: [ServerFrameJSON] = []
        for _ in 0..<3 { sent.append(try await client.next()) }
        #expect(sent.allSatisfy { $0.type == "sent" && $0.conv == conv })
        let ops = sent.compactMap(\.msg)
        #expect(Set(ops).count == 3 && ops.allSatisfy(MessageID.isValid))
        #expect(sent.map(\.id) == ["a1", ops[1], "l1"], "a change without a client id is known by its op")

        let records = try await inbound.waitFor(InboundEnvelope.self, "the changes") { records -> [(key: String, value: InboundEnvelope)]? in
            let mine = records.filter { $0.value.group?.by == alice }
            return mine.count == 3 ? mine : nil
        }
        #expect(records.allSatisfy { $0.key == conv && $0.value.session == session && $0.value.device == "d1" })
        #expect(records.map(\.value.group) == [
            GroupOperation(op: ops[0], action: .add, conv: conv, by: alice, id: "a1", members: [bob, carol], ts: sent[0].ts ?? 0),
            GroupOperation(op: ops[1], action: .remove, conv: conv, by: alice, id: ops[1], members: [carol], ts: sent[1].ts ?? 0),
            GroupOperation(op: ops[2], action: .leave, conv: conv, by: alice, id: "l1", ts: sent[2].ts ?? 0),
        ])

        client.send(#"{"type":"members","conv":"\#(conv)","next":"\#(bob)"}"#)
        let query = try await offline.waitForQuery("the members query", of: alice) { $0.kind == .members }.last
        #expect(query?.key == alice)
        #expect(query?.value == QueryEnvelope(kind: .members, user: alice, device: "d1", session: session, edge: edgeID, conv: conv, next: bob))

        // The answer becomes a members frame for the asking session.
        let page = MembersPage(conv: conv, title: "Team", members: [GroupMemberInfo(user: alice, role: .admin, joined: 1, read: 3)], next: alice)
        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], members: page))
        let frame = try await client.next(where: { $0.type == "members" })
        #expect(frame.conv == conv && frame.title == "Team" && frame.next == alice)

        await inbound.stop()
        await offline.stop()
        await client.disconnect()
    }

    @Test("typing: a dm not naming the user is not_member at once; else one SignalEnvelope per conversation and interval, keyed by conv")
    func typing() async throws {
        let stack = try sharedStack(EdgeGroupShared.stack)
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let dm = Conversation.direct(alice, bob), group = "g:" + UUID().uuidString.lowercased()
        let (client, session) = try await connect(alice, port: stack.service.port, edgeID: edgeID, parameters: "device=d1")
        let signals = try await TopicReader.start(stack.topics.signals, partitions: testTopicPartitions)

        client.send(#"{"type":"typing","conv":"\#(Conversation.direct(bob, "zed"))"}"#)
        let refused = try await client.next()
        #expect(refused.type == "error" && refused.code == "not_member")

        client.send(#"{"type":"typing","conv":"\#(dm)"}"#)
        client.send(#"{"type":"typing","conv":"\#(dm)"}"#)  // within the interval: dropped
        client.send(#"{"type":"typing","conv":"\#(group)"}"#)
        #expect(try await client.roundTrip().isEmpty, "typing is not answered")
        // The marker: another session's signal (its own throttle) for the same dm, so on the same
        // partition and queued after the first session's, which the round trip saw handled.
        let (second, secondSession) = try await connect(alice, port: stack.service.port, edgeID: edgeID, parameters: "device=d2")
        second.send(#"{"type":"typing","conv":"\#(dm)"}"#)
        let dmSignals = try await signals.waitFor(SignalEnvelope.self, "the marker") { records -> [(key: String, value: SignalEnvelope)]? in
            let mine = records.filter { $0.value.user == alice && $0.value.conv == dm }
            return mine.contains { $0.value.session == secondSession } ? mine : nil
        }
        #expect(dmSignals.map(\.value.session) == [session, secondSession], "one signal per session: the second one of the first was dropped")
        let signal = try #require(dmSignals.first)
        #expect(signal.key == dm)
        #expect(signal.value.kind == .typing && signal.value.edge == edgeID)
        #expect(signal.value.ts > 0 && signal.value.ts <= UnixTime.nowMilliseconds)
        let groupSignal = try await signals.waitFor(SignalEnvelope.self, "the group's signal") {
            $0.first { $0.value.user == alice && $0.value.conv == group }
        }
        #expect(groupSignal.key == group && groupSignal.value.session == session)
        #expect(!signals.decoded(SignalEnvelope.self).contains { $0.value.conv == Conversation.direct(bob, "zed") })
        await signals.stop()
        await client.disconnect()
        await second.disconnect()
    }

    @Test("typing from relay-svc reaches v2 sessions as a typing frame; v1 sessions get none")
    func typingFrames() async throws {
        let stack = try sharedStack(EdgeGroupShared.stack)
        let offline = try await OfflineStandIn.start(topics: stack.topics, edgeID: edgeID, producer: stack.producer)
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let (v2, _) = try await connect(alice, port: stack.service.port, edgeID: edgeID, parameters: "device=d1")
        let (v1, _) = try await connect(alice, port: stack.service.port, edgeID: edgeID)
        let notice = TypingNotice(conv: Conversation.direct(alice, bob), user: bob)
        try await offline.deliver(DeliverEnvelope(user: alice, typing: notice),
                                  DeliverEnvelope(user: alice, presence: [PresenceStatus(user: bob, status: .online)]))
        let frame = try await v2.next(where: { $0.type == "typing" })
        #expect(frame.conv == notice.conv && frame.user == bob)
        _ = try await v1.next(where: { $0.type == "presence" })  // came after the typing notice
        #expect(!v1.frames.contains { $0.type == "typing" })
        await v1.disconnect()
        await v2.disconnect()
        await offline.stop()
    }

    @Test("watch: the session gets presence changes only of the users in presence-svc's answer (and its latest watch), with last_seen")
    func watchAnswer() async throws {
        let stack = try sharedStack(EdgeGroupShared.stack)
        let offline = try await OfflineStandIn.start(topics: stack.topics, edgeID: edgeID, producer: stack.producer)
        let events = try await TopicReader.start(stack.topics.presenceEvents, partitions: testTopicPartitions)
        let alice = uniqueID("alice"), friend = uniqueID("friend"), stranger = uniqueID("stranger"), peer = uniqueID("peer")
        let (client, session) = try await connect(alice, port: stack.service.port, edgeID: edgeID, parameters: "device=d1")

        client.send(#"{"type":"watch","users":["\#(friend)","\#(stranger)","\#(peer)"]}"#)
        let query = try await events.waitFor(PresenceEvent.self, "the query") { $0.first { $0.value.kind == .query && $0.value.session == session } }
        #expect(query.value.users == [friend, stranger, peer] && query.value.user == alice)

        // presence-svc allows friend and peer (the statuses are the answer's); the session then
        // watches those two only.
        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session],
                                                  error: ProtocolError(.forbidden, "not allowed to watch 1 users: no shared conversation"),
                                                  presence: [PresenceStatus(user: friend, status: .online),
                                                             PresenceStatus(user: peer, status: .offline, lastSeen: 1234)],
                                                  watch: [friend, peer]))
        let answer = [try await client.next(), try await client.next(), try await client.next()]
        #expect(answer.map(\.type) == ["error", "presence", "presence"])
        #expect(answer[0].code == "forbidden")
        #expect(answer[2].user == peer && answer[2].status == "offline" && answer[2].lastSeen == 1234)

        // Changes on one partition, in order: the stranger's first, then the friend's last.
        func change(_ user: String, _ status: PresenceStatus.Status, lastSeen: UInt64? = nil) async throws {
            try await presenceChange(stack, user, status, lastSeen: lastSeen)
        }
        try await change(stranger, .online)
        try await change(peer, .online)
        try await change(friend, .offline, lastSeen: 5678)
        var frames: [ServerFrameJSON] = []
        while frames.last?.user != friend { frames.append(try await client.next()) }
        #expect(frames == [ServerFrameJSON(type: "presence", user: peer, status: "online"),
                           ServerFrameJSON(type: "presence", user: friend, status: "offline", lastSeen: 5678)])

        // A newer watch without peer stops peer's changes at once.
        client.send(#"{"type":"watch","users":["\#(friend)"]}"#)
        #expect(try await client.roundTrip().isEmpty)
        try await change(peer, .offline)
        try await change(friend, .online)
        #expect(try await client.next() == ServerFrameJSON(type: "presence", user: friend, status: "online"))

        await events.stop()
        await offline.stop()
        await client.disconnect()
    }

    @Test("an unwatch (relay-svc, for a block) ends the session's watch of that user at once; its other watches stay")
    func unwatchEndsAWatch() async throws {
        let stack = try sharedStack(EdgeGroupShared.stack)
        let offline = try await OfflineStandIn.start(topics: stack.topics, edgeID: edgeID, producer: stack.producer)
        let events = try await TopicReader.start(stack.topics.presenceEvents, partitions: testTopicPartitions)
        let alice = uniqueID("alice"), blocked = uniqueID("blocked"), peer = uniqueID("peer")
        let (client, session) = try await connect(alice, port: stack.service.port, edgeID: edgeID, parameters: "device=d1")
        client.send(#"{"type":"watch","users":["\#(blocked)","\#(peer)"]}"#)
        _ = try await events.waitFor(PresenceEvent.self, "the query") { $0.first { $0.value.kind == .query && $0.value.session == session } }
        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], watch: [blocked, peer]))
        // The unwatch, then a status on the same deliver topic: once that arrives, the unwatch was applied.
        try await offline.deliver(DeliverEnvelope(user: alice, unwatch: [blocked]))
        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], presence: [PresenceStatus(user: peer, status: .online)]))
        #expect(try await client.next() == ServerFrameJSON(type: "presence", user: peer, status: "online"))

        try await presenceChange(stack, blocked, .online)
        try await presenceChange(stack, peer, .offline)
        #expect(try await client.next() == ServerFrameJSON(type: "presence", user: peer, status: "offline"),
                "the change of the user no longer watched, produced first, was not forwarded")

        await events.stop()
        await offline.stop()
        await client.disconnect()
    }

    /// Produces a presence change of `user` on partition 0 of presence.changes (one partition, so
    /// changes arrive in the order produced).
    private func presenceChange(_ stack: ServiceStack, _ user: String, _ status: PresenceStatus.Status, lastSeen: UInt64? = nil) async throws {
        let change = PresenceChange(kind: status == .online ? .sessionOnline : .sessionOffline, user: user, session: "s", edge: "e",
                                    status: status, transition: true, lastSeen: lastSeen)
        _ = try await stack.producer.producer.send(KafkaOutgoingRecord(topic: stack.topics.presenceChanges, key: Array(user.utf8),
                                                                       value: Envelope.encode(change), partition: 0))
    }
}
