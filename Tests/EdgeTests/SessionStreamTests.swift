@testable import Edge
import NIOCore
import NIOEmbedded
import ParleyProtocol
import Testing

/// A session's stream on an embedded channel: pulls, pages, the window, acks, and what each kind
/// of client is written.
@Suite("Session stream")
struct SessionStreamTests {
    @Test("the first pull subscribes after since; the page's entries and synced are written; the next page waits for the write")
    func firstPull() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(id: "s1", user: "alice", kind: .v2(device: "phone"), reports: reports)
        s.session.startStream(since: 4, epoch: "e1")
        #expect(reports.queries == [QueryEnvelope(kind: .sync, user: "alice", device: "phone", session: "s1", edge: "edge-1",
                                                  after: 4, epoch: "e1", subscribe: true)])

        s.probe.holding = true
        #expect(s.session.receive((5...6).map { messageEntry($0) }, page: syncPage(after: 4, head: 8, more: true), epoch: nil) == 2)
        #expect(reports.pulls == [4], "the page was not written yet")
        s.probe.release()
        #expect(reports.pulls == [4, 6])
        #expect(reports.queries.last?.subscribe == false)

        _ = s.session.receive((7...8).map { messageEntry($0) }, page: syncPage(after: 6, head: 8), epoch: nil)
        s.session.flush()
        let frames = try s.received()
        #expect(frames.map(\.type) == ["message", "message", "message", "message", "synced"])
        #expect(frames.compactMap(\.seq) == [5, 6, 7, 8, 8])
        #expect(frames.last == ReceivedFrame(type: "synced", seq: 8, epoch: "e1"))
        #expect(frames.first?.id == nil, "another user's client id is not shown")
    }

    @Test("the window: past sync-window unacked entries the next page waits for an ack; the ack opens it")
    func window() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(user: "alice", syncWindow: 4, reports: reports)
        s.session.startStream(since: nil, epoch: nil)
        _ = s.session.receive((1...3).map { messageEntry($0) }, page: syncPage(after: 0, head: 9, more: true), epoch: nil)
        #expect(reports.pulls == [nil, 3], "3 ahead of the start: within the window")
        _ = s.session.receive((4...6).map { messageEntry($0) }, page: syncPage(after: 3, head: 9, more: true), epoch: nil)
        #expect(reports.pulls == [nil, 3], "6 ahead: the window is full")

        #expect(s.session.ack(ClientFrame.Ack(seq: 2)) == nil)
        #expect(reports.cursors.last == CursorMove(kind: .ack, user: "alice", device: "d1", session: s.session.id, edge: "edge-1",
                                                   seq: 2, after: 0))
        #expect(reports.pulls == [nil, 3], "4 ahead of the ack: still full")
        #expect(s.session.ack(ClientFrame.Ack(seq: 3)) == nil)
        #expect(reports.pulls == [nil, 3, 6], "3 ahead of the ack")
        #expect(s.session.ack(ClientFrame.Ack(seq: 3)) == nil)
        #expect(reports.acks == [2, 3], "an ack that does not move is not sent again")
        #expect(s.session.ack(ClientFrame.Ack(seq: 5)) == nil)
        #expect(reports.cursors.last?.after == 3, "after: the previous ack")
    }

    @Test("a session whose window stays full without an ack for sync-ack-timeout is closed with 1008; an ack restarts the clock")
    func ackTimeout() throws {
        let loop = EmbeddedEventLoop()
        let reports = RecordedReports()
        let s = try EmbeddedSession(user: "alice", syncWindow: 2, syncAckTimeout: .seconds(10), reports: reports, loop: loop)
        s.session.startStream(since: 0, epoch: "e1")
        _ = s.session.receive((1...3).map { messageEntry($0) }, page: syncPage(after: 0, head: 9, more: true), epoch: nil)
        loop.advanceTime(by: .seconds(9))
        #expect(s.session.isOpen)
        _ = s.session.ack(ClientFrame.Ack(seq: 1))  // still 2 ahead: the window stays full
        #expect(reports.pulls == [0])
        loop.advanceTime(by: .seconds(9))
        #expect(s.session.isOpen, "the ack restarted the clock")
        loop.advanceTime(by: .seconds(1))
        #expect(s.session.end == .closedByEdge(.noAcks))
        let close = try s.written().last?.close
        #expect(close?.code == 1008)
        #expect(close?.reason == "too slow: no acks")
    }

    @Test("a replay that ended does not wait for acks; live entries go on without a window")
    func noTimeoutAfterReplay() throws {
        let loop = EmbeddedEventLoop()
        let s = try EmbeddedSession(user: "alice", syncWindow: 1, syncAckTimeout: .seconds(1), loop: loop)
        s.session.startStream(since: 0, epoch: "e1")
        _ = s.session.receive((1...3).map { messageEntry($0) }, page: syncPage(after: 0, head: 3), epoch: nil)
        #expect(s.session.receive((4...6).map { messageEntry($0) }, page: nil, epoch: "e1") == 3)
        loop.advanceTime(by: .seconds(5))
        #expect(s.session.isOpen)
    }

    @Test("live frames count against the outbound queue, replay frames do not")
    func liveCounts() throws {
        let s = try EmbeddedSession(user: "alice", queueLimit: 2)
        s.probe.holding = true
        s.session.startStream(since: 0, epoch: "e1")
        _ = s.session.receive((1...10).map { messageEntry($0) }, page: syncPage(after: 0, head: 10), epoch: nil)
        s.session.flush()
        #expect(s.session.isOpen, "ten replayed and unwritten")
        _ = s.session.receive((11...13).map { messageEntry($0) }, page: nil, epoch: nil)
        #expect(s.session.end == .closedByEdge(.overflow), "three live ones over a limit of two")
    }

    @Test("a v2 session gets every entry, its own messages with their client id; a gap pulls once")
    func v2Frames() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(user: "alice", kind: .v2(device: "d1"), reports: reports)
        s.session.startStream(since: 0, epoch: "e1")
        let entries = [messageEntry(1, from: "alice", to: "bob", id: "mine"), receiptEntry(2), readEntry(3), messageEntry(4)]
        _ = s.session.receive(entries, page: syncPage(after: 0, head: 4), epoch: nil)
        _ = s.session.receive([messageEntry(7)], page: nil, epoch: "e1")
        _ = s.session.receive([messageEntry(8)], page: nil, epoch: "e1")
        s.session.flush()
        let frames = try s.received()
        #expect(frames.map(\.type) == ["message", "receipt", "read", "message", "synced"])
        #expect(frames.first?.id == "mine")
        #expect(reports.pulls == [0, 4], "one pull for the gap before 7")
    }

    @Test("a v1 session gets other users' messages and receipts only, no synced; its msgs acks move the cursor over the prefix")
    func v1() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(user: "alice", kind: .v1, reports: reports)
        s.session.startStream(since: nil, epoch: nil)
        #expect(reports.queries.first?.device == "~v1")
        let inbound = messageEntry(3), later = messageEntry(6)
        let entries = [inbound, messageEntry(4, from: "alice", to: "bob"), receiptEntry(5), later, readEntry(7)]
        _ = s.session.receive(entries, page: syncPage(after: 2, head: 7), epoch: nil)
        s.session.flush()
        let frames = try s.received()
        #expect(frames.map(\.type) == ["message", "receipt", "message"])
        #expect(frames.compactMap(\.seq) == [3, 5, 6])

        #expect(s.session.ack(ClientFrame.Ack(msgs: [try #require(later.msg)])) == nil)
        #expect(reports.cursors.isEmpty, "the message at 3 is not acked yet")
        #expect(s.session.ack(ClientFrame.Ack(msgs: [try #require(inbound.msg)])) == nil)
        #expect(reports.cursors == [CursorMove(kind: .ack, user: "alice", device: "~v1", session: s.session.id, edge: "edge-1",
                                               seq: 7, after: 2)])
    }

    @Test("a v1 session whose unacked messages overflowed stops moving on msgs acks but still passes seq acks on")
    func v1Overflow() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(user: "alice", kind: .v1, legacyAckLimit: 2, reports: reports)
        s.session.startStream(since: nil, epoch: nil)
        let entries = (1...3).map { messageEntry($0) }
        _ = s.session.receive(entries, page: syncPage(after: 0, head: 3), epoch: nil)
        #expect(s.session.ack(ClientFrame.Ack(msgs: entries.compactMap(\.msg))) == nil)
        #expect(reports.acks.isEmpty, "three waited, two may")
        #expect(s.session.ack(ClientFrame.Ack(seq: 3)) == nil)
        #expect(reports.acks == [3])
    }

    @Test("entries a v1 client never acks (its own messages, receipts) move the cursor at once when no message waits before them")
    func v1PassesOverWhatNeedsNoAck() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(user: "alice", kind: .v1, reports: reports)
        s.session.startStream(since: nil, epoch: nil)
        _ = s.session.receive([messageEntry(1, from: "alice", to: "bob"), receiptEntry(2)], page: syncPage(after: 0, head: 2), epoch: nil)
        #expect(reports.acks == [2])
        _ = s.session.receive([messageEntry(3), readEntry(4)], page: nil, epoch: nil)
        #expect(reports.acks == [2], "3 waits for the client's ack")
    }

    @Test("a seed session's page is acked at once, but the next page waits until it was written")
    func seedPagingWaitsForTheWrite() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(user: "alice", kind: .seed, reports: reports)
        s.session.startStream(since: nil, epoch: nil)
        s.probe.holding = true
        _ = s.session.receive([messageEntry(1), messageEntry(2)], page: syncPage(after: 0, head: 5, more: true), epoch: nil)
        #expect(reports.acks == [2])
        #expect(reports.pulls == [nil])
        s.probe.release()
        #expect(reports.pulls == [nil, 2])
    }

    @Test("a pull the broker does not take closes the session with 1013, so its client reconnects")
    func pullNotTaken() throws {
        let loop = EmbeddedEventLoop()
        let s = try EmbeddedSession(user: "alice", reports: RecordedReports(failingQueries: true), loop: loop)
        s.session.startStream(since: 0, epoch: "e1")
        loop.run()
        #expect(s.session.end == .closedByEdge(.unavailable))
        #expect(try s.written().last?.close?.code == 1013)
    }

    @Test("msgs acks are refused for a session with a device")
    func msgsNeedV1() throws {
        let s = try EmbeddedSession(user: "alice", kind: .v2(device: "d1"))
        #expect(s.session.ack(ClientFrame.Ack(msgs: [MessageID.make()]))?.code == .badRequest)
    }

    @Test("a seed session gets other users' message bodies as raw text, acked on its behalf")
    func seed() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(user: "alice", kind: .seed, reports: reports)
        s.session.startStream(since: nil, epoch: nil)
        _ = s.session.receive([messageEntry(1, body: "hello"), receiptEntry(2), messageEntry(3, from: "alice", to: "bob")],
                              page: syncPage(after: 0, head: 3), epoch: nil)
        s.session.flush()
        #expect(try s.written().map(\.text) == ["hello"])
        #expect(reports.cursors.map(\.seq) == [3])
        #expect(reports.cursors.first?.device == "~v1")
    }

    @Test("the client's sync replays from its after and ends with synced; the end of the session unsubscribes")
    func resyncAndEnd() throws {
        let reports = RecordedReports()
        let s = try EmbeddedSession(id: "s9", user: "alice", reports: reports)
        s.session.startStream(since: 0, epoch: "e1")
        _ = s.session.receive((1...3).map { messageEntry($0) }, page: syncPage(after: 0, head: 3), epoch: nil)
        s.session.resync(after: 1, epoch: "e1")
        #expect(reports.queries.last == QueryEnvelope(kind: .sync, user: "alice", device: "d1", session: "s9", edge: "edge-1",
                                                      after: 1, epoch: "e1"))
        _ = s.session.receive((2...3).map { messageEntry($0) }, page: syncPage(after: 1, head: 3), epoch: nil)
        s.session.flush()
        #expect(try s.received().compactMap(\.seq) == [1, 2, 3, 3, 2, 3, 3])

        s.session.endStream()
        #expect(reports.queries.last == QueryEnvelope(kind: .unsubscribe, user: "alice", device: "d1", session: "s9", edge: "edge-1"))
    }
}
