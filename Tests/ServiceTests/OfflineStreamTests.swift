@testable import Offline
import ParleyBackend
import ParleyProtocol
import ParleyRedis
import Testing

/// The stream scripts on the real redis-server: order, idempotence, epochs, cursors, reads, retention.
@Suite("offline-svc stream scripts")
struct OfflineStreamTests {
    @Test("entries of one user get seq 1...n without gaps; appending the same entries again re-finds their seqs")
    func sequence() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter")
        let entries = (1...5).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) }
        let first = try await stream.append(entries)
        #expect(first.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(!first.contains { $0.duplicate })

        let replayed = try await stream.append(entries)
        #expect(replayed.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(replayed.allSatisfy { $0.duplicate })
        #expect(try await stream.storedSeqs() == [1, 2, 3, 4, 5])
        #expect(try await stream.meta()["h"] == "5")

        let rejected = StreamEntry(kind: .rejected, msg: MessageID.make(), conv: Conversation.direct(stream.user, peer), cseq: 0,
                                   id: "c9", code: .notMember)
        #expect(try await stream.append(rejected).seq == 6)
        let again = try await stream.append(rejected)
        #expect(again.seq == 6 && again.duplicate)
        try await stream.clear()
    }

    @Test("receipts are watermarks: one at or below its (conv, status, by) mark is a duplicate with nothing to deliver")
    func receiptWatermarks() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter"), conv = Conversation.direct(stream.user, peer)
        func receipt(_ cseq: UInt64, _ status: StreamEntry.ReceiptStatus) -> StreamEntry {
            StreamEntry(kind: .receipt, msg: MessageID.make(), conv: conv, cseq: cseq, by: peer, status: status)
        }
        let outcomes = try await stream.append([receipt(3, .delivered), receipt(2, .delivered), receipt(3, .delivered),
                                                receipt(5, .delivered), receipt(3, .read)])
        #expect(outcomes.map(\.seq) == [1, 0, 0, 2, 3])
        #expect(outcomes.map(\.duplicate) == [false, true, true, false, false])
        #expect(try await stream.storedSeqs() == [1, 2, 3])
        try await stream.clear()
    }

    @Test("entries are stored without body and seq; message entries keep the conversation's last, order and read state")
    func storedForm() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter"), conv = Conversation.direct(stream.user, peer)
        try await stream.append([messageEntry(from: stream.user, to: peer, cseq: 4, body: "mine"),
                                 messageEntry(from: peer, to: stream.user, cseq: 5, body: "theirs")])
        let reply = try await stream.redis.send(.raw(["XRANGE", RedisArgument(stream.keys.stream), "-", "+"], keys: [stream.keys.stream]))
        let fields = try reply.asArray().map { entry throws(RedisError) in try entry.asArray()[1].asStrings() }
        #expect(fields.map { $0.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) } == [["e", "t"], ["e", "t"]])
        let stored = try Envelope.decode(StreamEntry.self, from: Array(fields[1][1].utf8))
        #expect(stored.body == nil && stored.seq == 0 && stored.cseq == 5 && stored.from == peer)
        #expect(try await stream.redis.send(.hget(stream.keys.last, conv)) == "5 2")
        #expect(try await stream.redis.send(.hget(stream.keys.read, conv)) == "4", "a message from the user moves their read cursor")
        #expect(try await stream.redis.send(.zscore(stream.keys.conversations, conv)) == 2)
        try await stream.clear()
    }

    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case metaDeleted, streamDeleted, headEntryDeleted, headFieldDeleted
        var testDescription: String { rawValue }

        func apply(to stream: StreamFixture) async throws {
            let keys = stream.keys
            switch self {
            case .metaDeleted: _ = try await stream.redis.send(.del([keys.meta]))
            case .streamDeleted: _ = try await stream.redis.send(.del([keys.stream]))
            case .headEntryDeleted: _ = try await stream.redis.send(.raw(["XDEL", RedisArgument(keys.stream), "3-0"], keys: [keys.stream]))
            case .headFieldDeleted: _ = try await stream.redis.send(.hdel(keys.meta, ["h"]))
            }
        }
    }

    @Test("missing or inconsistent stream state starts a new epoch at seq 1, and a sync in the old epoch resets",
          arguments: Damage.allCases)
    func newEpoch(damage: Damage) async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter")
        try await stream.append((1...3).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) })
        try await stream.ack(3)
        let old = try #require(try await stream.meta()["e"])
        try await damage.apply(to: stream)

        #expect(try await stream.append(messageEntry(from: peer, to: stream.user, cseq: 4)).seq == 1)
        let meta = try await stream.meta()
        #expect(meta["e"] != old && meta["h"] == "1" && meta["f"] == "1")
        #expect(try await stream.devices().isEmpty, "cursors of the old epoch are gone")
        let sync = try await stream.sync(after: 3, epoch: old)
        #expect(sync.reset && sync.head == 1 && sync.after == 1 && sync.epoch == meta["e"])
        try await stream.clear()
    }

    @Test("the first script to touch a stream creates its meta; a sync after damage makes the new epoch")
    func firstTouch() async throws {
        let stream = try StreamFixture()
        let first = try await stream.sync(after: 0)
        #expect(!first.reset && first.head == 0 && first.entries.isEmpty && !first.epoch.isEmpty)
        #expect(try await stream.meta() == ["e": first.epoch, "h": "0", "f": "1", "b": "0"])
        try await stream.append(messageEntry(from: uniqueID("peter"), to: stream.user, cseq: 1))
        _ = try await stream.redis.send(.del([stream.keys.meta]))
        let after = try await stream.sync(after: 1, epoch: first.epoch)
        #expect(after.reset && after.epoch != first.epoch && after.head == 0)
        #expect(try await stream.storedSeqs().isEmpty)
        try await stream.clear()
    }

    @Test("sync after a position resets iff the epoch differs, it is past the head, or before the first retained entry - 1")
    func resetRules() async throws {
        let stream = try StreamFixture(policy: StreamPolicy(maxEntries: 7))
        let peer = uniqueID("peter")
        try await stream.append((1...10).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) })
        let meta = try await stream.meta()
        let epoch = try #require(meta["e"])
        #expect(meta["f"] == "4")

        let fromFirst = try await stream.sync(after: 3, epoch: epoch)
        #expect(!fromFirst.reset && fromFirst.entries.map(\.seq) == Array(4...10) && !fromFirst.more)
        let atHead = try await stream.sync(after: 10, epoch: epoch)
        #expect(!atHead.reset && atHead.entries.isEmpty && atHead.after == 10)
        for (after, epochSent) in [(2, epoch), (11, epoch), (5, "another"), (5, nil), (0, nil)] as [(UInt64, String?)] {
            let sync = try await stream.sync(after: after, epoch: epochSent, device: "d\(after)")
            #expect(sync.reset && sync.after == 10 && sync.entries.isEmpty, "after \(after) epoch \(epochSent ?? "none")")
            #expect(try await stream.devices()["d\(after)"] == "10", "a reset moves the device's cursor to the head")
        }
        try await stream.clear()

        let fresh = try StreamFixture()
        try await fresh.append(messageEntry(from: peer, to: fresh.user, cseq: 1))
        let noEpoch = try await fresh.sync(after: 0)
        #expect(!noEpoch.reset && noEpoch.entries.map(\.seq) == [1], "after 0 needs no epoch")
        try await fresh.clear()
    }

    @Test("a device without a cursor resets to the head; the legacy device starts at 0")
    func deviceCursors() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter")
        try await stream.append((1...3).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) })
        let tablet = try await stream.sync(device: "tablet")
        #expect(tablet.reset && tablet.after == 3 && tablet.head == 3)
        #expect(try await stream.devices() == ["tablet": "3"])
        let legacy = try await stream.sync(device: Device.legacy)
        #expect(!legacy.reset && legacy.after == 0 && legacy.entries.map(\.seq) == [1, 2, 3])
        let again = try await stream.sync(device: "tablet")
        #expect(!again.reset && again.after == 3 && again.entries.isEmpty)
        try await stream.clear()
    }

    @Test("an ack moves the device's cursor up to at most the head, never backwards")
    func ackCursor() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter")
        try await stream.append((1...5).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) })
        try await stream.ack(3)
        #expect(try await stream.devices()["phone"] == "3")
        try await stream.ack(2)
        #expect(try await stream.devices()["phone"] == "3")
        try await stream.ack(99)
        #expect(try await stream.devices()["phone"] == "5")
        try await stream.clear()
    }

    @Test("an ack reports, per conversation, the newest message from another user among the entries after `after`")
    func ackedMessages() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter"), other = uniqueID("olga")
        let entries = [messageEntry(from: peer, to: stream.user, cseq: 1), messageEntry(from: stream.user, to: peer, cseq: 2),
                       messageEntry(from: peer, to: stream.user, cseq: 3), messageEntry(from: other, to: stream.user, cseq: 1),
                       StreamEntry(kind: .receipt, msg: MessageID.make(), conv: Conversation.direct(stream.user, peer), cseq: 2,
                                   by: peer, status: .delivered),
                       messageEntry(from: stream.user, to: other, cseq: 2)]
        try await stream.append(entries)
        let all = try await stream.ack(6, after: 0)
        #expect(Set(all.messages) == [
            AckedMessage(conv: entries[2].conv, cseq: 3, msg: entries[2].msg!, from: peer, id: entries[2].id),
            AckedMessage(conv: entries[3].conv, cseq: 1, msg: entries[3].msg!, from: other, id: entries[3].id),
        ])
        #expect(try await stream.ack(6, after: 6).messages.isEmpty)
        let replayedEarlier = try await stream.ack(2, after: 0)
        #expect(replayedEarlier.messages.map(\.cseq) == [1], "computed from the record, not from the cursor")
        #expect(try await stream.devices()["phone"] == "6")
        try await stream.clear()
    }

    @Test("a read clamps to the conversation's last cseq, never goes backwards, and appends a read entry once per position")
    func readMoves() async throws {
        let stream = try StreamFixture()
        let peer = uniqueID("peter"), conv = Conversation.direct(stream.user, peer)
        try await stream.append((1...3).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) })
        let epoch = try #require(try await stream.meta()["e"])
        #expect(try await stream.read(conv, cseq: 2) == .moved(before: 0, read: 2, seq: 4, duplicate: false, epoch: epoch, subscribers: []))
        #expect(try await stream.read(conv, cseq: 1) == .moved(before: 2, read: 2, seq: 0, duplicate: true, epoch: epoch, subscribers: []))
        #expect(try await stream.read(conv, cseq: 99) == .moved(before: 2, read: 3, seq: 5, duplicate: false, epoch: epoch, subscribers: []))
        #expect(try await stream.read(conv, cseq: 3) == .moved(before: 3, read: 3, seq: 0, duplicate: true, epoch: epoch, subscribers: []))
        #expect(try await stream.redis.send(.hget(stream.keys.read, conv)) == "3")
        let page = try await stream.sync(after: 3, epoch: try await stream.meta()["e"])
        let reads = try page.entries.map { try Envelope.decode(StreamEntry.self, from: $0.json) }
        #expect(reads == [StreamEntry(kind: .read, conv: conv, cseq: 2), StreamEntry(kind: .read, conv: conv, cseq: 3)])
        #expect(try await stream.read(Conversation.direct(stream.user, uniqueID("zed")), cseq: 1) == .notMember)
        try await stream.clear()
    }

    @Test("retention by count trims a prefix, moves first and forgets the trimmed logical ids")
    func retentionByCount() async throws {
        let stream = try StreamFixture(policy: StreamPolicy(maxEntries: 5))
        let peer = uniqueID("peter")
        let entries = (1...8).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) }
        try await stream.append(entries)
        #expect(try await stream.storedSeqs() == Array(4...8))
        #expect(try await stream.meta()["f"] == "4")
        #expect(try await stream.redis.send(.hlen(stream.keys.ids)) == 5)
        #expect(try await stream.redis.send(.hget(stream.keys.ids, "\(entries[2].conv)#3")) == nil)
        #expect(try await stream.redis.send(.hget(stream.keys.ids, "\(entries[3].conv)#4")) == "4")
        try await stream.clear()
    }

    @Test("the byte budget trims the oldest entries (a prefix) until the stream fits, never the head entry")
    func retentionByBytes() async throws {
        let peer = uniqueID("peter")
        let sample = try StreamFixture()
        try await sample.append(messageEntry(from: peer, to: sample.user, cseq: 1))
        let budget = try await sample.storedBytes() * 10
        try await sample.clear()
        let stream = try StreamFixture(policy: StreamPolicy(maxBytes: budget))
        for cseq in 1...30 as ClosedRange<UInt64> {
            try await stream.append(messageEntry(from: peer, to: stream.user, cseq: cseq))
            let stored = try await stream.storedBytes()
            #expect(try await stream.meta()["b"] == String(stored), "meta counts exactly the stored entry JSON")
            #expect(stored <= budget)
        }
        let seqs = try await stream.storedSeqs()
        #expect(seqs.last == 30 && seqs == Array(seqs[0]...30) && seqs.count >= 8, "a prefix went, the newest stayed")
        #expect(try await stream.meta()["f"] == String(seqs[0]))
        #expect(try await stream.redis.send(.hlen(stream.keys.ids)) == seqs.count, "trimmed entries' ids are forgotten")
        try await stream.clear()

        let tiny = try StreamFixture(policy: StreamPolicy(maxBytes: 1))
        try await tiny.append((1...3).map { messageEntry(from: peer, to: tiny.user, cseq: UInt64($0)) })
        #expect(try await tiny.storedSeqs() == [3], "an entry over the whole budget still stays as the head")
        try await tiny.clear()
    }

    @Test("retention by age trims the entries older than it, never the head entry")
    func retentionByAge() async throws {
        let stream = try StreamFixture(policy: StreamPolicy(retention: .seconds(3600)))
        let peer = uniqueID("peter")
        let now = UnixTime.nowMilliseconds, twoHoursAgo = now - 7_200_000
        try await stream.append((1...3).map { messageEntry(from: peer, to: stream.user, cseq: UInt64($0)) }, now: twoHoursAgo)
        #expect(try await stream.storedSeqs() == [1, 2, 3])
        _ = try await stream.sync(after: 0)
        #expect(try await stream.storedSeqs() == [3], "a sync trims too, but never the head entry")
        #expect(try await stream.meta()["f"] == "3")
        try await stream.append(messageEntry(from: peer, to: stream.user, cseq: 4), now: now)
        #expect(try await stream.storedSeqs() == [4])
        #expect(try await stream.meta()["f"] == "4")
        #expect(try await stream.redis.send(.hlen(stream.keys.ids)) == 1)
        try await stream.clear()
    }

    @Test("a new device beyond max-devices evicts the device with the lowest cursor")
    func maxDevices() async throws {
        let stream = try StreamFixture(policy: StreamPolicy(maxDevices: 3))
        try await stream.append((1...5).map { messageEntry(from: uniqueID("peter"), to: stream.user, cseq: UInt64($0)) })
        try await stream.ack(5, device: "a")
        try await stream.ack(2, device: "b")
        try await stream.ack(4, device: "c")
        _ = try await stream.sync(device: "d")
        #expect(try await stream.devices() == ["a": "5", "c": "4", "d": "5"])
        try await stream.clear()
    }

    @Test("at most 64 sessions are subscribed: one more drops the oldest-added")
    func subscriptionBound() async throws {
        let stream = try StreamFixture()
        let start = UnixTime.nowMilliseconds
        for index in 0..<StreamPolicy().maxSubscriptions {
            _ = try await stream.sync(after: 0, session: "s\(index)", subscribe: true, now: start + UInt64(index))
        }
        #expect(try await stream.redis.send(.hlen(stream.keys.subscriptions)) == 64)
        _ = try await stream.sync(after: 0, session: "s0", subscribe: true, now: start + 100)
        #expect(try await stream.redis.send(.hlen(stream.keys.subscriptions)) == 64, "subscribing again replaces")
        _ = try await stream.sync(after: 0, session: "late", subscribe: true, now: start + 200)
        let sessions = try await stream.redis.send(.hgetall(stream.keys.subscriptions))
        #expect(sessions.count == 64 && sessions["late"] != nil && sessions["s1"] == nil && sessions["s0"] != nil)
        #expect(sessions["late"] == "e1 phone \(start + 200)")
        try await stream.clear()
    }
}
