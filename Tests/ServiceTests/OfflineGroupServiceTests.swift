@testable import Offline
import ParleyBackend
import ParleyChat
import ParleyProtocol
import ParleyRedis
import ParleyTestSupport
import Testing

/// Groups through offline-svc's inputs as relay-svc and the edges feed them (`group` and
/// `message` entries of `g:` conversations on chat.inbox, reads on chat.acks), and the read
/// moves' receipts straight from ``CursorMoves`` (what a batch would produce).
extension OfflineServiceTests {
    @Test("group and message entries of a g: conversation on chat.inbox: appended once, a replayed batch delivered with the same seqs")
    func groupEntriesThroughInbox() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let user = uniqueID("gina"), admin = uniqueID("ann")
        let edge = try await inputs.edges(1)[0]
        let group = GroupFixture(redis: inputs.stack.redis, creator: admin)
        try await inputs.subscribe(user, session: "g1", edge: edge.id)
        let message = try await group.log(from: admin, cseq: 2)
        let batch = [group.entry(.created, cseq: 1, by: admin, members: [user]), .message(message),
                     group.entry(.removed, cseq: 3, by: admin, members: [user])].map { InboxEntry(user: user, entry: $0) }
        try await inputs.inbox(batch)
        try await inputs.inbox(batch)
        let delivered = try await edge.reader.waitFor(DeliverEnvelope.self, "both deliveries") { records in
            let entries = liveEntries(records, user: user, session: "g1")
            return entries.count >= 6 ? entries : nil
        }
        #expect(delivered.map(\.seq) == [1, 2, 3, 1, 2, 3])
        #expect(delivered.map(\.kind) == [.group, .message, .group, .group, .message, .group])
        #expect(delivered[2].event == .removed && delivered[2].members == [user] && delivered[2].title == group.title)
        #expect(try await inputs.stack.redis.send(.hget(RedisKeys.StreamKeys(user).meta, "h")) == "3")
        await edge.reader.stop()
    }

    @Test("a read in a group moves the cursor, mirrors it for members and gives each other sender one read receipt via chat.inbox")
    func groupReadThroughAcks() async throws {
        let inputs = OfflineInputs(stack: try sharedStack(OfflineShared.stack))
        let redis = inputs.stack.redis
        let reader = uniqueID("rea"), ann = uniqueID("ann"), bo = uniqueID("bo"), cy = uniqueID("cy")
        let edge = try await inputs.edges(1)[0]
        let group = GroupFixture(redis: redis, creator: ann)
        try await group.write([ann: member(1, role: .admin), bo: member(1), cy: member(1), reader: member(1)], cseq: 6)
        var entries = [group.entry(.created, cseq: 1, by: ann, members: [bo, cy, reader])]
        // The reader's own message at 3 marks it read up to 3.
        for (cseq, from) in [(2, ann), (3, reader), (4, bo), (5, ann), (6, cy)] as [(UInt64, String)] {
            entries.append(.message(try await group.log(from: from, cseq: cseq)))
        }
        try await inputs.inbox(entries.map { InboxEntry(user: reader, entry: $0) })
        try await inputs.waitForHead(reader, 6)
        try await inputs.subscribe(reader, session: "r1", edge: edge.id)

        try await inputs.move(CursorMove(kind: .read, user: reader, device: "phone", session: "r1", edge: edge.id, conv: group.conv, cseq: 5))
        let mark = "\(group.conv)|read|\(reader)"
        for (sender, cseq) in [(ann, 5), (bo, 4)] {
            try await waitUntil("\(sender)'s read receipt at \(cseq)") {
                try await redis.send(.hget(RedisKeys.StreamKeys(sender).marks, mark)) == "\(cseq)"
            }
        }
        #expect(try await group.reads() == [reader: "5"])
        let readEntry = try await edge.reader.waitFor(DeliverEnvelope.self, "the reader's read entry") { records in
            liveEntries(records, user: reader, session: "r1").first
        }
        #expect(readEntry == StreamEntry(kind: .read, seq: 7, conv: group.conv, cseq: 5))

        try await inputs.move(CursorMove(kind: .read, user: reader, device: "phone", session: "r1", edge: edge.id, conv: group.conv, cseq: 9))
        try await waitUntil("cy's read receipt at 6") {
            try await redis.send(.hget(RedisKeys.StreamKeys(cy).marks, mark)) == "6"
        }
        #expect(try await group.reads() == [reader: "6"])
        #expect(try await redis.send(.xrange(RedisKeys.StreamKeys(cy).stream)).count == 1)
        #expect(try await redis.send(.hget(RedisKeys.StreamKeys(ann).marks, mark)) == "5", "nothing of ann's in (5, 6]")
        await edge.reader.stop()
    }

    @Test("read receipts in groups up to --group-receipts-max members, none above; a replayed read gives them again; non-members refused")
    func groupReceiptThreshold() async throws {
        let stack = try sharedStack(OfflineShared.stack)
        let moves = CursorMoves(scripts: StreamScripts(policy: StreamPolicy()), redis: stack.redis, producer: stack.producer.producer,
                                topics: stack.topics, inboxPartitions: 2, groupReceiptsMax: 3, malformed: MalformedRecords(logger: serviceLogger("moves")))
        let stream = try StreamFixture("rea")
        let reader = stream.user, ann = uniqueID("ann"), bo = uniqueID("bo"), cy = uniqueID("cy")
        let small = GroupFixture(redis: stack.redis, creator: ann), big = GroupFixture(redis: stack.redis, creator: ann)
        try await small.write([ann: member(1, role: .admin), bo: member(1), reader: member(1)], cseq: 4)
        try await big.write([ann: member(1, role: .admin), bo: member(1), cy: member(1), reader: member(1)], cseq: 4)
        var logged: [String: [ChatMessage]] = [:]
        for group in [small, big] {
            try await stream.append(group.entry(.created, cseq: 1, by: ann, members: [bo, reader]))
            for (cseq, from) in [(2, ann), (3, bo), (4, ann)] as [(UInt64, String)] {
                let message = try await group.log(from: from, cseq: cseq)
                logged[group.conv, default: []].append(message)
                try await stream.append(.message(message))
            }
        }
        func read(_ group: GroupFixture, _ cseq: UInt64, by user: String = reader) -> CursorMove {
            CursorMove(kind: .read, user: user, device: "phone", session: "s-\(user)", edge: "e1", conv: group.conv, cseq: cseq)
        }
        func receipt(to message: ChatMessage, in group: GroupFixture) -> InboxEntry {
            InboxEntry(user: message.from, entry: StreamEntry(kind: .receipt, msg: message.msg, conv: group.conv, cseq: message.cseq ?? 0,
                                                             by: reader, status: .read, id: message.id))
        }
        let expected = [receipt(to: logged[small.conv]![2], in: small), receipt(to: logged[small.conv]![1], in: small)]

        let (_, first) = try await moves.apply([read(small, 4), read(big, 4)])
        #expect(first == expected, "ann at 4 and bo at 3 in the group of 3; nothing from the group of 4")
        #expect(try await small.reads() == [reader: "4"])
        #expect(try await big.reads() == [reader: "4"], "every group mirrors the cursor, whatever its size")
        let (_, again) = try await moves.apply([read(small, 4), read(big, 4)])
        #expect(again == expected, "a replayed read (the cursor is there already) gives the same receipts")

        try await small.write([ann: member(1, role: .admin), bo: member(1), reader: record(.member, (1, 4))], cseq: 5)
        let (refused, none) = try await moves.apply([read(small, 4), read(big, 3, by: uniqueID("stranger"))])
        #expect(none.isEmpty)
        let errors = try refused.records(stack.topics).flatMap { record in
            try Envelope.decode(EnvelopeBatch<DeliverEnvelope>.self, from: record.value).items
        }.compactMap { $0.error?.code }
        #expect(errors == [.notMember, .notMember], "the removed member (its stream still has the group) and a stranger")
        try await stream.clear()
    }
}
