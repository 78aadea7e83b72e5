@testable import Edge
import NIOCore
import NIOEmbedded
import ParleyProtocol
import Testing

@Suite("LoopOutbox and LoopSessions")
struct LoopOutboxTests {
    @Test("work handed over waits for the loop, then is applied in one drain with one flush per session")
    func oneDrain() throws {
        let loop = EmbeddedEventLoop()
        let outbox = embeddedOutbox(loop)
        let alice = try EmbeddedSession(user: "alice", loop: loop).started()
        outbox.sessions.add(alice.session)
        let entries = (1...3).map { messageEntry($0) }
        for entry in entries { outbox.hand(.deliver([DeliverEnvelope(user: "alice", sessions: [alice.session.id], entries: [entry])])) }
        outbox.hand(.settled(SettledSend(session: alice.session.id, clientID: "c1", msg: "x", conv: "dm:alice:bob", ts: 1, accepted: true)))
        #expect(try alice.written().isEmpty, "nothing is written before the loop runs")

        loop.run()
        let frames = try alice.received()
        #expect(frames.map(\.type) == ["message", "message", "message", "sent"])
        #expect(frames.prefix(3).compactMap(\.msg) == entries.compactMap(\.msg))
        #expect(frames.last == ReceivedFrame(type: "sent", id: "c1", msg: "x", conv: "dm:alice:bob"))
        #expect(alice.probe.flushes == 2, "one for the start, one for the drain")

        // The next hand-over schedules the next drain.
        outbox.hand(.settled(SettledSend(session: alice.session.id, clientID: "c2", msg: "y", conv: "dm:alice:bob", ts: 2, accepted: false)))
        outbox.hand(.unanswered(session: alice.session.id, ProtocolError(.unavailable, "query not accepted, retry")))
        loop.run()
        #expect(try alice.received() == [ReceivedFrame(type: "error", id: "c2", code: "unavailable"),
                                         ReceivedFrame(type: "error", code: "unavailable")])
        #expect(alice.probe.flushes == 3)
    }

    @Test("a deliver record reaches the addressed sessions of its user and no one else")
    func routing() throws {
        let loop = EmbeddedEventLoop()
        let outbox = embeddedOutbox(loop)
        let a1 = try EmbeddedSession(user: "alice", loop: loop).started()
        let a2 = try EmbeddedSession(user: "alice", loop: loop).started()
        let carol = try EmbeddedSession(user: "carol", loop: loop).started()
        for s in [a1, a2, carol] { outbox.sessions.add(s.session) }

        let history = HistoryPage(conv: "dm:alice:bob", messages: [], more: false)
        outbox.hand(.deliver([
            DeliverEnvelope(user: "alice", entries: [messageEntry(1)]),
            DeliverEnvelope(user: "alice", sessions: [a2.session.id], entries: [messageEntry(2)]),
            DeliverEnvelope(user: "alice", sessions: [a2.session.id], history: history),
            DeliverEnvelope(user: "alice", sessions: [a1.session.id], conversations: ConversationsPage(items: [], next: nil)),
            DeliverEnvelope(user: "alice", sessions: [a1.session.id], error: ProtocolError(.notMember, "not a member")),
            DeliverEnvelope(user: "alice", sessions: [a1.session.id], presence: [PresenceStatus(user: "bob", status: .online)]),
            DeliverEnvelope(user: "nobody", entries: [messageEntry(1)]),
        ]))
        loop.run()
        let a1Frames = try a1.received()
        #expect(a1Frames.map(\.type) == ["message", "conversations", "error", "presence"])
        #expect(a1Frames.first?.seq == 1)
        #expect(a1Frames[2] == ReceivedFrame(type: "error", code: "not_member"))
        #expect(a1Frames.last == ReceivedFrame(type: "presence", user: "bob", status: "online"))
        let a2Frames = try a2.received()
        #expect(a2Frames.map(\.type) == ["message", "message", "history"])
        #expect(a2Frames.compactMap(\.seq) == [1, 2])
        #expect(try carol.received().isEmpty)
        #expect(a1.probe.flushes == 2 && a2.probe.flushes == 2 && carol.probe.flushes == 1)
    }

    @Test("a seed-mode session gets other users' message bodies, nothing else, and is acked on its behalf")
    func seedAcks() throws {
        let loop = EmbeddedEventLoop()
        let reports = RecordedReports()
        let outbox = embeddedOutbox(loop)
        let seed = try EmbeddedSession(user: "alice", kind: .seed, reports: reports, loop: loop).started()
        outbox.sessions.add(seed.session)
        outbox.hand(.deliver([DeliverEnvelope(user: "alice", entries: [messageEntry(1, body: "raw text please"), receiptEntry(2)]),
                              DeliverEnvelope(user: "alice", presence: [PresenceStatus(user: "bob", status: .online)])]))
        loop.run()
        #expect(try seed.written().map(\.text) == ["raw text please"], "no receipts or presence for the seed protocol")
        #expect(reports.cursors.map(\.seq) == [2])
    }

    @Test("a resync reports every session of the loop again")
    func resync() throws {
        let loop = EmbeddedEventLoop()
        let reports = RecordedReports()
        let outbox = embeddedOutbox(loop, reports: reports)
        let sessions = try [EmbeddedSession(user: "alice", loop: loop), EmbeddedSession(user: "bob", loop: loop)]
        for s in sessions { outbox.sessions.add(s.session) }
        outbox.hand(.deliver([DeliverEnvelope(user: "", resync: true)]))
        loop.run()
        #expect(Set(reports.presence.compactMap(\.session)) == Set(sessions.map(\.session.id)))
        #expect(reports.presence.allSatisfy { $0.kind == .connect })
        #expect(reports.presence.count == sessions.count)
    }

    @Test("a watch takes effect with presence-svc's answer: its allowed users among the latest request; a newer watch drops the others at once")
    func watchers() throws {
        let loop = EmbeddedEventLoop()
        let outbox = embeddedOutbox(loop)
        let watcher = try EmbeddedSession(user: "alice", loop: loop)
        let other = try EmbeddedSession(user: "carol", loop: loop)
        for s in [watcher, other] { outbox.sessions.add(s.session) }
        func changes(_ status: PresenceStatus.Status, _ users: String...) -> LoopWork {
            .presence(users.map { PresenceStatus(user: $0, status: status) })
        }

        outbox.sessions.requestWatch(watcher.session, users: ["bob", "dave", "frank"])
        outbox.hand(changes(.online, "bob", "dave"))
        loop.run()
        #expect(try watcher.received().isEmpty, "nobody is watched before the answer")

        // The answer allows bob and dave (and names eve, who was never asked for).
        outbox.hand(.deliver([DeliverEnvelope(user: "alice", sessions: [watcher.session.id],
                                              presence: [PresenceStatus(user: "bob", status: .offline, lastSeen: 7)],
                                              watch: ["bob", "dave", "eve"])]))
        outbox.hand(changes(.online, "bob", "eve", "frank"))
        loop.run()
        #expect(try watcher.received() == [ReceivedFrame(type: "presence", user: "bob", status: "offline"),
                                           ReceivedFrame(type: "presence", user: "bob", status: "online")])
        #expect(try other.received().isEmpty)

        // A newer watch drops dave at once; an answer to the older one cannot bring him back.
        outbox.sessions.requestWatch(watcher.session, users: ["bob", "eve"])
        outbox.hand(.deliver([DeliverEnvelope(user: "alice", sessions: [watcher.session.id], watch: ["bob", "dave"])]))
        outbox.hand(changes(.offline, "bob", "dave", "eve"))
        loop.run()
        #expect(try watcher.received() == [ReceivedFrame(type: "presence", user: "bob", status: "offline")])

        outbox.sessions.remove(watcher.session)
        outbox.hand(changes(.online, "bob"))
        loop.run()
        #expect(try watcher.received().isEmpty, "a removed session watches no one")
    }

    @Test("typing goes to v2 sessions only; members pages to the addressed session; presence changes carry last_seen")
    func typingAndMembers() throws {
        let loop = EmbeddedEventLoop()
        let outbox = embeddedOutbox(loop)
        let v2 = try EmbeddedSession(user: "alice", loop: loop)
        let v1 = try EmbeddedSession(user: "alice", kind: .v1, loop: loop)
        for s in [v2, v1] { outbox.sessions.add(s.session) }
        let typing = TypingNotice(conv: "g:team", user: "bob")
        let page = MembersPage(conv: "g:team", title: "Team", members: [GroupMemberInfo(user: "alice", role: .admin, joined: 1, read: 0)])
        outbox.hand(.deliver([DeliverEnvelope(user: "alice", typing: typing),
                              DeliverEnvelope(user: "alice", sessions: [v1.session.id], members: page)]))
        loop.run()
        #expect(try v2.written().map { String(buffer: $0.data) } == [ServerFrame.typing(typing).text])
        #expect(try v1.written().map { String(buffer: $0.data) } == [ServerFrame.members(page).text])

        outbox.sessions.requestWatch(v2.session, users: ["bob"])
        outbox.hand(.deliver([DeliverEnvelope(user: "alice", sessions: [v2.session.id], watch: ["bob"])]))
        let offline = PresenceStatus(user: "bob", status: .offline, lastSeen: 1_700_000_000_000)
        outbox.hand(.presence([offline]))
        loop.run()
        #expect(try v2.written().map { String(buffer: $0.data) } == [ServerFrame.presence(offline).text])
        #expect(ServerFrame.presence(offline).text.contains(#""last_seen":1700000000000"#))
    }

    @Test("a settled send of a session that is gone is dropped")
    func settledForGoneSession() throws {
        let loop = EmbeddedEventLoop()
        let outbox = embeddedOutbox(loop)
        let alice = try EmbeddedSession(user: "alice", loop: loop)
        outbox.sessions.add(alice.session)
        outbox.sessions.remove(alice.session)
        outbox.hand(.settled(SettledSend(session: alice.session.id, clientID: "c1", msg: "x", conv: "dm:alice:bob", ts: 1, accepted: true)))
        loop.run()
        #expect(try alice.written().isEmpty)
    }

    @Test("a ping round closes the sessions silent since the last round with 1001; closeAll closes every session")
    func pingRoundAndCloseAll() throws {
        let loop = EmbeddedEventLoop()
        let outbox = embeddedOutbox(loop)
        let silent = try EmbeddedSession(user: "alice", loop: loop)
        let alive = try EmbeddedSession(user: "bob", loop: loop)
        for s in [silent, alive] { outbox.sessions.add(s.session) }
        outbox.hand(.pingRound)
        loop.run()
        alive.session.heardFrom()
        outbox.hand(.pingRound)
        loop.run()
        #expect(silent.session.end == .closedByEdge(.unresponsive))
        #expect(try silent.written().compactMap(\.close?.code) == [1001])
        #expect(alive.session.isOpen)
        #expect(try alive.written().map(\.opcode) == [.ping, .ping])

        outbox.hand(.closeAll(.goingAway))
        loop.run()
        #expect(alive.session.end == .closedByEdge(.goingAway))
        #expect(try alive.written().last?.close?.reason == "server going away")
    }

    @Test("the loop's message ids increase (retries of a client id: RecentSendsTests)")
    func sendIDs() {
        let loop = EmbeddedEventLoop()
        let sessions = embeddedOutbox(loop).sessions
        let first = sessions.messageID(unixMilliseconds: 1_800_000_000_000)
        #expect(sessions.messageID(unixMilliseconds: 1_800_000_000_000) > first)
        #expect(sessions.messageID(unixMilliseconds: 1_800_000_000_001) > first)
    }
}
