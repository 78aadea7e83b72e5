@testable import Offline
import ParleyBackend
import ParleyProtocol
import ParleyRedis
import Testing

/// The stream scripts with group conversations: `group` entries, reads and acks in groups, and
/// the subscriptions bound as a setting.
@Suite("offline-svc group streams")
struct OfflineGroupStreamTests {
    @Test("group entries are appended once by conv#cseq: a replay re-finds the same seqs; they move convs, not last")
    func groupEntriesIdempotent() async throws {
        let stream = try StreamFixture()
        let group = GroupFixture(redis: stream.redis, creator: uniqueID("ann"))
        let created = group.entry(.created, cseq: 1, by: group.creator, members: [stream.user])
        let message = StreamEntry(kind: .message, msg: MessageID.make(), conv: group.conv, cseq: 2, from: group.creator,
                                  body: "hi", ts: UnixTime.nowMilliseconds, id: "c2")
        let added = group.entry(.added, cseq: 3, by: group.creator, members: [uniqueID("bo")])
        let batch = [created, message, added]

        let first = try await stream.append(batch)
        #expect(first.map(\.seq) == [1, 2, 3] && first.allSatisfy { !$0.duplicate })
        let again = try await stream.append(batch)
        #expect(again.map(\.seq) == [1, 2, 3] && again.allSatisfy(\.duplicate), "a replayed batch re-finds each entry")
        #expect(try await stream.storedSeqs() == [1, 2, 3])
        // The same cseq is the same entry, whatever else the record says (the op id of a retried create).
        #expect(try await stream.append(group.entry(.created, cseq: 1, by: group.creator, members: [stream.user])).seq == 1)

        #expect(try await stream.redis.send(.hget(stream.keys.last, group.conv)) == "2 2", "only the message is the last")
        #expect(try await stream.redis.send(.zscore(stream.keys.conversations, group.conv)) == 3, "the change is activity")
        #expect(try await stream.redis.send(.hget(stream.keys.read, group.conv)) == "1", "read from the change that added the user")
        let stored = try await stream.sync(after: 0, epoch: try await stream.meta()["e"])
        let entries = try stored.entries.map { try Envelope.decode(StreamEntry.self, from: $0.json) }
        #expect(entries.first == created, "stored as it came")
        try await stream.clear()
    }

    @Test("being added later starts the read cursor at the add; others' adds and removals do not move it")
    func joinStartsReading() async throws {
        let stream = try StreamFixture()
        let group = GroupFixture(redis: stream.redis, creator: uniqueID("ann"))
        try await stream.append([group.entry(.added, cseq: 7, by: group.creator, members: [uniqueID("x"), stream.user]),
                                 group.entry(.added, cseq: 9, by: group.creator, members: [uniqueID("y")]),
                                 group.entry(.removed, cseq: 10, by: group.creator, members: [uniqueID("z")])])
        #expect(try await stream.redis.send(.hget(stream.keys.read, group.conv)) == "7")
        #expect(try await stream.redis.send(.hget(stream.keys.last, group.conv)) == nil)
        // A read before the group's first message (a client marking a fresh group read) is no refusal and moves nothing.
        #expect(try await stream.read(group.conv, cseq: 10) == .moved(before: 7, read: 7, seq: 0, duplicate: true, epoch: "", subscribers: []))
        #expect(try await stream.read(Conversation.direct(stream.user, uniqueID("nobody")), cseq: 1) == .notMember)
        try await stream.clear()
    }

    @Test("an ack over group messages reports none of them (no delivered receipts in groups); dm messages still")
    func noDeliveredInGroups() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter")
        let group = GroupFixture(redis: stream.redis, creator: peer)
        let groupMessages = (2...4).map { cseq in
            StreamEntry(kind: .message, msg: MessageID.make(), conv: group.conv, cseq: UInt64(cseq), from: peer, body: "g",
                        ts: UnixTime.nowMilliseconds, id: "g\(cseq)")
        }
        let dm = messageEntry(from: peer, to: stream.user, cseq: 1)
        try await stream.append([group.entry(.created, cseq: 1, by: peer, members: [stream.user])] + groupMessages + [dm])
        let acked = try await stream.ack(5, after: 0)
        #expect(acked.messages == [AckedMessage(conv: dm.conv, cseq: 1, msg: try #require(dm.msg), from: peer, id: dm.id)])
        let onlyGroup = try StreamFixture()
        try await onlyGroup.append(groupMessages)
        #expect(try await onlyGroup.ack(3, after: 0).messages.isEmpty)
        try await stream.clear()
        try await onlyGroup.clear()
    }

    @Test("a read in a group reports where the cursor was and moves it like a dm read")
    func groupReadMoves() async throws {
        let stream = try StreamFixture()
        let group = GroupFixture(redis: stream.redis, creator: uniqueID("ann"))
        try await stream.append([group.entry(.created, cseq: 1, by: group.creator, members: [stream.user])] + (2...5).map { cseq in
            StreamEntry(kind: .message, msg: MessageID.make(), conv: group.conv, cseq: UInt64(cseq), from: group.creator, body: "g",
                        ts: UnixTime.nowMilliseconds, id: "g\(cseq)")
        })
        let epoch = try #require(try await stream.meta()["e"])
        #expect(try await stream.read(group.conv, cseq: 3) == .moved(before: 1, read: 3, seq: 6, duplicate: false, epoch: epoch, subscribers: []))
        #expect(try await stream.read(group.conv, cseq: 9) == .moved(before: 3, read: 5, seq: 7, duplicate: false, epoch: epoch, subscribers: []))
        #expect(try await stream.read(group.conv, cseq: 5) == .moved(before: 5, read: 5, seq: 0, duplicate: true, epoch: epoch, subscribers: []))
        try await stream.clear()
    }

    @Test("--max-subscriptions bounds the subscribed sessions: one more drops the oldest-added", arguments: [1, 3])
    func subscriptionSetting(bound: Int) async throws {
        let stream = try StreamFixture(policy: StreamPolicy(maxSubscriptions: bound))
        let start = UnixTime.nowMilliseconds
        for index in 0...bound {
            _ = try await stream.sync(after: 0, session: "s\(index)", subscribe: true, now: start + UInt64(index))
        }
        let sessions = try await stream.redis.send(.hgetall(stream.keys.subscriptions))
        #expect(sessions.keys.sorted() == (1...bound).map { "s\($0)" }.sorted())
        try await stream.clear()
    }
}
