import Edge
import Foundation
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import Testing

enum EdgeStreamShared {
    static let stack = TaskLocal<ServiceStack?>(wrappedValue: nil)
    static let edgeID = uniqueID("edge-stream")
}

/// ws-edge's sessions on their users' streams, with the test as offline-svc (``OfflineStandIn``):
/// it reads the edge's pulls, acks and queries from chat.queries and chat.acks on the real broker
/// and answers on chat.deliver.<edge>.
@Suite("ws-edge streams", SharedStack(slot: EdgeStreamShared.stack, start: {
    try await ServiceStack.start("edge-stream") { try await startEdge(prefix: $0, edgeID: EdgeStreamShared.edgeID) }
}))
struct EdgeStreamTests {
    private let edgeID = EdgeStreamShared.edgeID

    /// The suite's stack and a stand-in for offline-svc on it.
    private func standIn() async throws -> (ServiceStack, OfflineStandIn) {
        let stack = try sharedStack(EdgeStreamShared.stack)
        return (stack, try await OfflineStandIn.start(topics: stack.topics, edgeID: edgeID, producer: stack.producer))
    }

    @Test("a v2 session subscribes with a pull after since; pages are forwarded, the next pulled after the last one, synced ends it; close unsubscribes")
    func firstReplay() async throws {
        let (stack, offline) = try await standIn()
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let client = WebSocketTestClient(alice, port: stack.service.port, path: "/ws?device=phone&since=5&epoch=e1",
                                         token: try await signToken(user: alice))
        let welcome = try await client.next()
        #expect(welcome.type == "welcome" && welcome.device == "phone")
        let session = try #require(welcome.session)

        let first = try await offline.waitForQuery("the first pull", of: alice) { $0.kind == .sync }
        #expect(first.map(\.value) == [QueryEnvelope(kind: .sync, user: alice, device: "phone", session: session, edge: edgeID,
                                                     after: 5, epoch: "e1", subscribe: true)])
        #expect(first.allSatisfy { $0.key == alice }, "keyed by the user")

        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], entries: (6...8).map { messageEntry($0, from: bob, to: alice) },
                                                  page: syncPage(after: 5, head: 10, more: true)))
        let page1 = try await (0..<3).asyncMap { _ in try await client.next() }
        #expect(page1.map(\.seq) == [6, 7, 8])
        #expect(page1.allSatisfy { $0.type == "message" && $0.id == nil && $0.from == bob })
        let second = try await offline.waitForQuery("the second pull", of: alice) { $0.kind == .sync && $0.after == 8 }
        #expect(second.last?.value.subscribe == false && second.last?.value.epoch == "e1")

        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], entries: (9...10).map { messageEntry($0, from: bob, to: alice) },
                                                  page: syncPage(after: 8, head: 10)))
        #expect(try await client.next().seq == 9)
        #expect(try await client.next().seq == 10)
        let synced = try await client.next()
        #expect(synced == ServerFrameJSON(type: "synced", seq: 10, epoch: "e1"))
        #expect(try await client.roundTrip().isEmpty)

        // The client's own sync: the same again from its after, without subscribing.
        client.send(#"{"type":"sync","after":9,"epoch":"e1"}"#)
        try await offline.waitForQuery("the client's sync", of: alice) { $0.kind == .sync && $0.after == 9 && !$0.subscribe }
        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], entries: [messageEntry(10, from: bob, to: alice)],
                                                  page: syncPage(after: 9, head: 10)))
        #expect(try await client.next().seq == 10)
        #expect(try await client.next() == ServerFrameJSON(type: "synced", seq: 10, epoch: "e1"))

        await client.disconnect()
        let all = try await offline.waitForQuery("the unsubscribe", of: alice) { $0.kind == .unsubscribe }
        #expect(all.map(\.value.kind) == [.sync, .sync, .sync, .unsubscribe])
        #expect(all.last?.value.session == session && all.last?.key == alice)
        await offline.stop()
    }

    @Test("live entries before and within the replay come out once, in seq order")
    func liveHeldThenReleased() async throws {
        let (stack, offline) = try await standIn()
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let (client, session) = try await connect(alice, port: stack.service.port, edgeID: edgeID, parameters: "device=d1")
        try await offline.waitForQuery("the first pull", of: alice) { $0.subscribe }
        func entries(_ seqs: [UInt64]) -> [StreamEntry] { seqs.map { messageEntry($0, from: bob, to: alice) } }
        func live(_ seqs: [UInt64]) -> DeliverEnvelope { DeliverEnvelope(user: alice, sessions: [session], entries: entries(seqs), epoch: "e1") }

        // Live 3 and 4 come before the first page (one deliver partition keeps this order): held,
        // then released after its 1 and 2, so the replay goes on after 4.
        try await offline.deliver(live([3, 4]), DeliverEnvelope(user: alice, sessions: [session], entries: entries([1, 2]),
                                                                page: syncPage(after: 0, head: 4, more: true)))
        try await offline.waitForQuery("the second pull", of: alice) { $0.after == 4 }
        // Within the replay: 6 live (held behind the gap at 5), 4 live again; the last page has 5 and 6.
        try await offline.deliver(live([6]), live([4]), DeliverEnvelope(user: alice, sessions: [session], entries: entries([5, 6]),
                                                                        page: syncPage(after: 4, head: 6)))
        try await offline.deliver(live([7]))
        var frames: [ServerFrameJSON] = []
        while frames.last?.seq != 7 { frames.append(try await client.next()) }
        #expect(frames.map(\.type) == ["message", "message", "message", "message", "message", "message", "synced", "message"])
        #expect(frames.map(\.seq) == [1, 2, 3, 4, 5, 6, 6, 7])
        #expect(try await client.roundTrip().isEmpty, "each once")
        await client.disconnect()
        await offline.stop()
    }

    @Test("a gap in live entries holds what follows and pulls once after next - 1; the pull's page fills it")
    func gapPulledOnce() async throws {
        let (stack, offline) = try await standIn()
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let (client, session) = try await startedSession(alice, port: stack.service.port, edgeID: edgeID, offline: offline)
        func live(_ seq: UInt64) -> DeliverEnvelope {
            DeliverEnvelope(user: alice, sessions: [session], entries: [messageEntry(seq, from: bob, to: alice)], epoch: "e1")
        }
        try await offline.deliver(live(1))
        #expect(try await client.next().seq == 1)
        try await offline.deliver(live(3), live(4))
        try await offline.waitForQuery("the gap's pull", of: alice) { $0.kind == .sync && $0.after == 1 }
        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], entries: (2...4).map { messageEntry($0, from: bob, to: alice) },
                                                  page: syncPage(after: 1, head: 4)))
        #expect(try await (0..<3).asyncMap { _ in try await client.next().seq } == [2, 3, 4])
        #expect(try await client.roundTrip().isEmpty, "a gap's pull ends without synced")

        // The client's next query follows every pull the edge made for those entries on the same key.
        client.send(#"{"type":"conversations","limit":5}"#)
        let queries = try await offline.waitForQuery("the marker query", of: alice) { $0.kind == .conversations }
        #expect(queries.map(\.value.after) == [0, 1, nil], "the first pull, one pull for the gap, the marker")
        #expect(queries.last?.value.limit == 5)
        await client.disconnect()
        await offline.stop()
    }

    @Test("ack{seq} becomes a CursorMove with after = the previous ack; the window then lets the next page through")
    func acks() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-acks")
        try await createTopics(TopicSetup.shared(Topics(prefix: prefix), partitions: 2))
        try await withOwnEdge("edge-acks", prefix: prefix, extra: ["--sync-window", "4"]) { edge, edgeID in
            let producer = try TestProducer("edge-acks")
            let offline = try await OfflineStandIn.start(topics: Topics(prefix: prefix), edgeID: edgeID, producer: producer)
            let alice = uniqueID("alice"), bob = uniqueID("bob")
            let (client, session) = try await connect(alice, port: edge.port, edgeID: edgeID, parameters: "device=d1&since=0")
            try await offline.waitForQuery("the first pull", of: alice) { $0.subscribe }
            try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], entries: (1...6).map { messageEntry($0, from: bob, to: alice) },
                                                      page: syncPage(after: 0, head: 10, more: true)))
            #expect(try await (0..<6).asyncMap { _ in try await client.next().seq } == [1, 2, 3, 4, 5, 6])
            // The page was handled before its frames arrived; a pull for the next one would come
            // before this query on the same key.
            client.send(#"{"type":"conversations"}"#)
            let before = try await offline.waitForQuery("the marker query", of: alice) { $0.kind == .conversations }
            #expect(before.map(\.value.after) == [0, nil], "6 ahead of 0 is past the window of 4: no pull yet")

            client.send(#"{"type":"ack","seq":3}"#)
            let move = try await offline.waitForMove("the ack", of: alice) { $0.kind == .ack }
            #expect(move.map(\.value) == [CursorMove(kind: .ack, user: alice, device: "d1", session: session, edge: edgeID, seq: 3, after: 0)])
            #expect(move.first?.key == alice)
            let pulls = try await offline.waitForQuery("the next page's pull", of: alice) { $0.after == 6 }
            #expect(pulls.map(\.value.after) == [0, nil, 6], "3 ahead of the ack: the next page")

            client.send(#"{"type":"ack","seq":6}"#)
            try await offline.waitForMove("the second ack", of: alice) { $0.seq == 6 && $0.after == 3 }
            await client.disconnect()
            await offline.stop()
            await producer.shutdown()
        }
    }

    @Test("a client that never acks gets no page past the window and is closed with 1008 after --sync-ack-timeout")
    func noAcks() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-noack")
        try await createTopics(TopicSetup.shared(Topics(prefix: prefix), partitions: 2))
        try await withOwnEdge("edge-noack", prefix: prefix, extra: ["--sync-window", "4", "--sync-ack-timeout", "500ms"]) { edge, edgeID in
            let producer = try TestProducer("edge-noack")
            let offline = try await OfflineStandIn.start(topics: Topics(prefix: prefix), edgeID: edgeID, producer: producer)
            let alice = uniqueID("alice"), bob = uniqueID("bob")
            let (client, session) = try await connect(alice, port: edge.port, edgeID: edgeID, parameters: "device=d1&since=0")
            try await offline.waitForQuery("the first pull", of: alice) { $0.subscribe }
            try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], entries: (1...3).map { messageEntry($0, from: bob, to: alice) },
                                                      page: syncPage(after: 0, head: 10, more: true)))
            try await offline.waitForQuery("the second pull (within the window)", of: alice) { $0.after == 3 }
            try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], entries: (4...6).map { messageEntry($0, from: bob, to: alice) },
                                                      page: syncPage(after: 3, head: 10, more: true)))
            let close = try await client.closeFrame()
            #expect(close?.closeCode == .policyViolation)
            #expect(close?.reason == "too slow: no acks")
            #expect(client.frames.compactMap(\.seq) == [1, 2, 3, 4, 5, 6])
            let queries = try await offline.waitForQuery("the unsubscribe", of: alice) { $0.kind == .unsubscribe }
            #expect(queries.map(\.value.after) == [0, 3, nil], "no pull past the window")
            await offline.stop()
            await producer.shutdown()
        }
    }

    @Test("v1: no copy of its own messages, no read entries or synced; ack{msgs} moves the cursor over the acked prefix only")
    func v1Session() async throws {
        let (stack, offline) = try await standIn()
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let (client, session) = try await connect(alice, port: stack.service.port, edgeID: edgeID)
        let pull = try await offline.waitForQuery("the first pull", of: alice) { $0.subscribe }.last?.value
        #expect(pull?.device == "~v1" && pull?.after == nil)

        client.send(#"{"type":"send","id":"a1","to":"\#(bob)","body":"mine"}"#)
        let sent = try await client.next()
        #expect(sent.type == "sent" && sent.conv == Conversation.direct(alice, bob))

        let conv = Conversation.direct(alice, bob)
        let first = messageEntry(1, from: bob, to: alice), own = messageEntry(2, from: alice, to: bob, id: "a1")
        let read = StreamEntry(kind: .read, seq: 3, conv: conv, cseq: 1)
        let receipt = StreamEntry(kind: .receipt, seq: 4, msg: own.msg, conv: conv, cseq: 2, by: bob, status: .delivered, id: "a1")
        let last = messageEntry(5, from: bob, to: alice)
        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], entries: [first, own, read, receipt, last],
                                                  page: syncPage(after: 0, head: 5)))
        let frames = try await [client.next()] + client.roundTrip()
        #expect(frames.map(\.type) == ["message", "receipt", "message"])
        #expect(frames.map(\.seq) == [1, 4, 5])
        #expect(frames[safe: 1]?.msg == own.msg && frames[safe: 1]?.by == bob && frames[safe: 1]?.id == "a1")

        // Acking the later message alone moves nothing: the first one is not acked.
        client.send(#"{"type":"ack","msgs":["\#(try #require(last.msg))"]}"#)
        client.send(#"{"type":"read","conv":"\#(conv)","cseq":1}"#)
        let marker = try await offline.waitForMove("the read after the ack", of: alice) { $0.kind == .read }
        #expect(marker.map(\.value.kind) == [.read], "no ack before the read")

        client.send(#"{"type":"ack","msgs":["\#(try #require(first.msg))"]}"#)
        let moves = try await offline.waitForMove("the ack of the prefix", of: alice) { $0.kind == .ack }
        #expect(moves.last?.value == CursorMove(kind: .ack, user: alice, device: "~v1", session: session, edge: edgeID, seq: 5, after: 0))
        await client.disconnect()
        await offline.stop()
    }

    @Test("read and history of a dm that does not name the user: not_member at once, nothing produced; the others go to their topics")
    func readsAndQueries() async throws {
        let (stack, offline) = try await standIn()
        let alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol")
        let (client, session) = try await startedSession(alice, port: stack.service.port, edgeID: edgeID, offline: offline)
        let foreign = Conversation.direct(bob, carol), mine = Conversation.direct(alice, bob)

        client.send(#"{"type":"read","conv":"\#(foreign)","cseq":3}"#)
        client.send(#"{"type":"history","conv":"\#(foreign)"}"#)
        let refusals = try await client.roundTrip()
        #expect(refusals.map(\.code) == ["not_member", "not_member"])

        client.send(#"{"type":"read","conv":"\#(mine)","cseq":3}"#)
        client.send(#"{"type":"read","conv":"g:team","cseq":1}"#)
        client.send(#"{"type":"history","conv":"\#(mine)","before":9,"limit":20}"#)
        client.send(#"{"type":"conversations","limit":10,"next":"abc"}"#)
        let moves = try await offline.waitForMove("the reads", of: alice) { $0.conv == "g:team" }
        #expect(moves.map(\.value) == [
            CursorMove(kind: .read, user: alice, device: "d1", session: session, edge: edgeID, conv: mine, cseq: 3),
            CursorMove(kind: .read, user: alice, device: "d1", session: session, edge: edgeID, conv: "g:team", cseq: 1),
        ])
        let queries = try await offline.waitForQuery("the conversations query", of: alice) { $0.kind == .conversations }
        #expect(queries.dropFirst().map(\.value) == [
            QueryEnvelope(kind: .history, user: alice, device: "d1", session: session, edge: edgeID, conv: mine, before: 9, limit: 20),
            QueryEnvelope(kind: .conversations, user: alice, device: "d1", session: session, edge: edgeID, limit: 10, next: "abc"),
        ])

        // Their answers come back to the session.
        let history = HistoryPage(conv: mine, messages: [chatMessage(from: bob, to: alice, body: "old")], more: true)
        try await offline.deliver(DeliverEnvelope(user: alice, sessions: [session], history: history),
                                  DeliverEnvelope(user: alice, sessions: [session], conversations: ConversationsPage(items: [], next: nil)),
                                  DeliverEnvelope(user: alice, sessions: [session], error: ProtocolError(.notMember, "not a member of g:team")))
        let answers = try await (0..<3).asyncMap { _ in try await client.next() }
        #expect(answers.map(\.type) == ["history", "conversations", "error"])
        #expect(answers.first?.conv == mine && answers.last?.code == "not_member")
        await client.disconnect()
        await offline.stop()
    }

    @Test("send: conv (a group, or a dm naming the sender) is the record's key and comes back in sent; a dm not naming the sender is not_member")
    func sendToConversation() async throws {
        let (stack, offline) = try await standIn()
        let alice = uniqueID("alice"), bob = uniqueID("bob"), carol = uniqueID("carol")
        let inbound = try await TopicReader.start(stack.topics.inbound, partitions: 2)
        let (client, session) = try await startedSession(alice, device: "laptop", port: stack.service.port, edgeID: edgeID, offline: offline)

        client.send(#"{"type":"send","id":"x","conv":"\#(Conversation.direct(bob, carol))","body":"hi"}"#)
        let refused = try await client.next()
        #expect(refused.type == "error" && refused.code == "not_member" && refused.id == "x")
        for (id, target) in [("dm", #""conv":"\#(Conversation.direct(alice, bob))""#), ("to", #""to":"\#(bob)""#), ("group", #""conv":"g:team""#)] {
            client.send(#"{"type":"send","id":"\#(id)",\#(target),"body":"hello"}"#)
        }
        let sent = try await (0..<3).asyncMap { _ in try await client.next() }
        #expect(sent.map(\.type) == ["sent", "sent", "sent"])
        #expect(sent.map(\.conv) == [Conversation.direct(alice, bob), Conversation.direct(alice, bob), "g:team"])

        let records = try await inbound.waitFor(InboundEnvelope.self, "the sends") { records -> [(key: String, value: InboundEnvelope)]? in
            let mine = records.filter { $0.value.message?.from == alice }
            return mine.count == 3 ? mine : nil
        }
        // Keys on two partitions: compared per send.
        let byID = Dictionary(uniqueKeysWithValues: records.map { ($0.value.message?.id ?? "", $0) })
        #expect(Set(byID.keys) == ["dm", "to", "group"], "the refused send was not produced")
        #expect(byID["dm"]?.key == Conversation.direct(alice, bob) && byID["to"]?.key == Conversation.direct(alice, bob))
        #expect(byID["group"]?.key == "g:team")
        #expect(byID["dm"]?.value.message?.to == bob && byID["to"]?.value.message?.to == bob && byID["group"]?.value.message?.to == nil)
        #expect(records.allSatisfy { $0.value.device == "laptop" && $0.value.session == session })
        await inbound.stop()
        await client.disconnect()
        await offline.stop()
    }

    @Test("bad device, since or epoch is refused with 400 before the upgrade")
    func badConnectParameters() async throws {
        let stack = try sharedStack(EdgeStreamShared.stack)
        let token = try await signToken(user: uniqueID("paula"))
        for parameters in ["device=", "device=bad%20id", "device=~v1", "device=\(String(repeating: "d", count: 65))",
                           "device=d&since=abc", "device=d&since=-1", "device=d&since=9007199254740992", "device=d&since=1&epoch=bad%20epoch",
                           "since=5", "epoch=e1"] {
            #expect(try await upgradeStatus(port: stack.service.port, path: "/ws?token=\(token)&\(parameters)") == .badRequest, "\(parameters)")
        }
        #expect(try await upgradeStatus(port: stack.service.port, path: "/ws?device=d1") == .unauthorized, "no token: 401 first")
        let (client, _) = try await connect(uniqueID("paula"), port: stack.service.port, edgeID: edgeID,
                                            parameters: "device=d1&since=9007199254740991&epoch=e1")
        await client.disconnect()
    }

    @Test("acks a client sends while the edge closes its session (shutdown) still reach chat.acks")
    func acksWhileClosing() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-closing")
        let topics = Topics(prefix: prefix)
        try await createTopics(TopicSetup.shared(topics, partitions: 2))
        let edgeID = uniqueID("edge-closing")
        let edge = try await startEdge(prefix: prefix, edgeID: edgeID)
        let producer = try TestProducer("edge-closing")
        let offline = try await OfflineStandIn.start(topics: topics, edgeID: edgeID, producer: producer)
        let alice = uniqueID("alice")
        let raw = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?token=\(try await signToken(user: alice))&device=d1&since=0",
                                                 halfClosure: true)
        try await offline.waitForQuery("the first pull", of: alice) { $0.subscribe }

        let stopped = Task { try await edge.stop() }
        let code = try await eventually("the edge's close frame") { raw.closeCode }
        #expect(code == 1001)
        try await raw.sendText(#"{"type":"ack","seq":4}"#)
        let moves = try await offline.waitForMove("the ack after the close frame", of: alice) { $0.kind == .ack }
        #expect(moves.last?.value.seq == 4 && moves.last?.value.after == 0)
        await raw.close()
        try await stopped.value
        try await offline.waitForQuery("the unsubscribe", of: alice) { $0.kind == .unsubscribe }
        await offline.stop()
        await producer.shutdown()
    }
}

extension Sequence {
    /// `transform` of each element, one after the other.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
