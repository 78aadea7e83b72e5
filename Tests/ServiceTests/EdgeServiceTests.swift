import Edge
import Foundation
import HTTPTypes
import JWTKit
import NIOWebSocket
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import Testing

enum EdgeShared {
    // Spelled out instead of @TaskLocal: the macro's `$stack` is not visible to the @Suite attribute.
    static let stack = TaskLocal<ServiceStack?>(wrappedValue: nil)
    static let edgeID = uniqueID("edge")
}

/// Dev login: `POST /api/login`.
private func login(_ user: String, port: Int) async throws -> String {
    let response = try await httpRequest(port: port, .post, "/api/login", headers: [.contentType: "application/json"],
                                         body: #"{"user":"\#(user)"}"#)
    try #require(response.status == .ok, "login of \(user): \(response.status) \(response.body)")
    struct Token: Decodable { let token: String; let user: String }
    let token = try JSONDecoder().decode(Token.self, from: Data(response.body.utf8))
    #expect(token.user == user)
    return token.token
}

/// ws-edge alone (no relay, presence or offline service): the test is the WebSocket client,
/// reads what the edge produces (chat.inbound, chat.queries, chat.acks, presence.events) and
/// writes its chat.deliver.<edge> topic as offline-svc would. EdgeStreamTests cover the
/// sessions' streams (sync, sequencing, acks, queries).
@Suite("ws-edge", SharedStack(slot: EdgeShared.stack, start: {
    try await ServiceStack.start("edge") { try await startEdge(prefix: $0, edgeID: EdgeShared.edgeID) }
}))
struct EdgeServiceTests {
    @Test("without a token, or with a forged, expired or malformed one, /ws answers 401 before the upgrade")
    func unauthorized() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let port = stack.service.port
        let user = uniqueID("ivan")
        let forged = try await signToken(user: user, secret: "another-secret-of-enough-bytes-0123456789")
        let expired = try await signToken(user: user, expires: Date().addingTimeInterval(-60))
        let badSubject = try await signToken(user: "not a user id!")

        #expect(try await upgradeStatus(port: port, path: "/ws") == .unauthorized)
        #expect(try await upgradeStatus(port: port, path: "/ws?token=\(forged)") == .unauthorized)
        #expect(try await upgradeStatus(port: port, path: "/ws?token=\(expired)") == .unauthorized)
        #expect(try await upgradeStatus(port: port, path: "/ws?token=\(badSubject)") == .unauthorized)
        #expect(try await upgradeStatus(port: port, path: "/ws?token=not.a.jwt") == .unauthorized)
        #expect(try await upgradeStatus(port: port, path: "/ws", headers: [.authorization: "Bearer \(expired)"]) == .unauthorized)
        #expect(try await upgradeStatus(port: port, path: "/ws", headers: [.authorization: "Bearer \(forged)"]) == .unauthorized)

        // A WebSocket client with an expired token gets no session.
        let refused = WebSocketTestClient("expired", port: port, token: expired)
        await #expect(throws: (any Error).self) { _ = try await refused.closeFrame() }
        #expect(refused.all.isEmpty)

        // A valid token works as a bearer header as well as in the query.
        let valid = try await signToken(user: user)
        let viaHeader = WebSocketTestClient("header", port: port, token: valid, bearer: true)
        #expect(try await viaHeader.next().type == "welcome")
        await viaHeader.disconnect()
    }

    @Test("dev login issues a token that opens a session; the welcome frame comes first")
    func devLogin() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let port = stack.service.port
        let user = uniqueID("lena")
        let token = try await login(user, port: port)
        let bad = try await httpRequest(port: port, .post, "/api/login", body: #"{"user":"no spaces allowed"}"#)
        #expect(bad.status == .badRequest)
        let whoami = try await httpRequest(port: port, .get, "/api/whoami", headers: [.authorization: "Bearer \(token)"])
        #expect(whoami.status == .ok && whoami.body.contains(user))

        let client = WebSocketTestClient(user, port: port, token: token)
        let welcome = try await client.next()
        #expect(welcome.type == "welcome")
        #expect(welcome.user == user)
        #expect(welcome.edge == EdgeShared.edgeID)
        #expect(!(welcome.session ?? "").isEmpty)
        #expect(try await client.roundTrip().isEmpty)
        await client.disconnect()
    }

    @Test("send: the InboundEnvelope is on chat.inbound, keyed by the conversation, before the client gets sent (with conv)")
    func sendIsDurableBeforeSent() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let topics = stack.topics
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let (client, session) = try await connect(alice, port: stack.service.port, edgeID: EdgeShared.edgeID)

        client.send(#"{"type":"send","id":"c1","to":"\#(bob)","body":"hello bob"}"#)
        let sent = try await client.next()
        #expect(sent.type == "sent")
        #expect(sent.id == "c1")
        #expect(sent.conv == Conversation.direct(alice, bob))
        let msg = try #require(sent.msg)
        #expect(MessageID.isValid(msg))

        // Right after `sent`: a reader starting at the end of chat.inbound does not see the
        // record (it was already stored), a reader from the beginning does.
        let fromEnd = try await TopicReader.start(topics.inbound, partitions: 2, from: .end)
        let marker = chatMessage(from: alice, to: bob, body: "marker")
        try await stack.producer.send(InboundEnvelope(message: marker, edge: "test", session: "t"), topic: topics.inbound, key: marker.conv)
        let afterSent = try await fromEnd.waitFor(InboundEnvelope.self, "the marker") { records -> [String]? in
            let ids = records.filter { $0.value.message?.from == alice }.compactMap { $0.value.message?.msg }  // other tests send too
            return ids.contains(marker.msg) ? ids : nil
        }
        #expect(afterSent == [marker.msg], "the send was produced after `sent` was answered")

        let fromStart = try await TopicReader.start(topics.inbound, partitions: 2)
        let record = try await fromStart.waitFor(InboundEnvelope.self, "the send") { $0.first { $0.value.message?.msg == msg } }
        #expect(record.key == Conversation.direct(alice, bob))
        #expect(record.value.message == ChatMessage(msg: msg, from: alice, to: bob, conv: Conversation.direct(alice, bob), body: "hello bob", ts: try #require(sent.ts), id: "c1"))
        #expect(record.value.edge == EdgeShared.edgeID)
        #expect(record.value.session == session)
        #expect(record.value.device == nil, "a v1 session names no device")

        // A client retry of c1 gets the same msg id.
        client.send(#"{"type":"send","id":"c1","to":"\#(bob)","body":"hello bob"}"#)
        let again = try await client.next()
        #expect(again.type == "sent" && again.id == "c1" && again.msg == msg)

        await fromEnd.stop()
        await fromStart.stop()
        await client.disconnect()
    }

    @Test("a DeliverEnvelope reaches the addressed sessions of its user and no one else")
    func deliverRouting() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let offline = try await OfflineStandIn.start(topics: stack.topics, edgeID: EdgeShared.edgeID, producer: stack.producer)
        let port = stack.service.port
        let alice = uniqueID("alice"), carol = uniqueID("carol"), bob = uniqueID("bob")
        let (a1, a1Session) = try await startedSession(alice, device: "a1", port: port, edgeID: EdgeShared.edgeID, offline: offline)
        let (a2, a2Session) = try await startedSession(alice, device: "a2", port: port, edgeID: EdgeShared.edgeID, offline: offline)
        let (c1, c1Session) = try await startedSession(carol, port: port, edgeID: EdgeShared.edgeID, offline: offline)

        let toAll = messageEntry(1, from: bob, to: alice, body: "to every session")
        let toA2 = messageEntry(2, from: bob, to: alice, body: "to a2 only")
        let history = HistoryPage(conv: Conversation.direct(alice, bob), messages: [], more: false)
        let forCarol = messageEntry(1, from: bob, to: carol, body: "carol's")
        try await offline.deliver(
            DeliverEnvelope(user: alice, entries: [toAll]),
            DeliverEnvelope(user: alice, sessions: [a2Session], entries: [toA2]),
            DeliverEnvelope(user: alice, sessions: [a2Session], history: history),
            DeliverEnvelope(user: alice, sessions: [a1Session], presence: [PresenceStatus(user: bob, status: .online)]),
            DeliverEnvelope(user: carol, sessions: [c1Session], entries: [forCarol]))

        let carolFrame = try await c1.next()
        #expect(carolFrame.type == "message" && carolFrame.msg == forCarol.msg && carolFrame.seq == 1)
        #expect(carolFrame.from == bob && carolFrame.to == carol && carolFrame.body == "carol's" && carolFrame.ts == forCarol.ts)
        #expect(carolFrame.conv == Conversation.direct(bob, carol) && carolFrame.cseq == 1)
        #expect(carolFrame.id == nil, "another user's client id is not shown")
        // carol's envelope came last, so the others were handed to alice's sessions before it.
        #expect(try await c1.roundTrip().isEmpty)

        let a1Frames = try await a1.roundTrip()
        #expect(a1Frames.map(\.type) == ["message", "presence"])
        #expect(a1Frames.first?.msg == toAll.msg)
        #expect(a1Frames[safe: 1] == ServerFrameJSON(type: "presence", user: bob, status: "online"))

        let a2Frames = try await a2.roundTrip()
        #expect(a2Frames.map(\.type) == ["message", "message", "history"])
        #expect(a2Frames.compactMap(\.seq) == [1, 2])
        #expect(a2Frames.last?.conv == Conversation.direct(alice, bob))

        // A deliver record for a user with no session here is dropped quietly.
        try await offline.deliver(DeliverEnvelope(user: uniqueID("nobody"), entries: [toAll]))
        try await stack.producer.sendRaw(Array("not an envelope".utf8), topic: offline.deliverTopic, key: "x")
        try await offline.deliver(DeliverEnvelope(user: carol, entries: [messageEntry(2, from: bob, to: carol)]))
        #expect(try await c1.next().seq == 2, "the deliver loop survived a malformed record")

        await a1.disconnect()
        await a2.disconnect()
        await c1.disconnect()
        await offline.stop()
    }

    @Test("deliveries and `sent` replies handed to one session from two threads at once all arrive; deliveries in order")
    func deliveriesAndSentInterleaved() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let offline = try await OfflineStandIn.start(topics: stack.topics, edgeID: EdgeShared.edgeID, producer: stack.producer)
        let alice = uniqueID("alice"), bob = uniqueID("bob")
        let (client, session) = try await startedSession(alice, port: stack.service.port, edgeID: EdgeShared.edgeID, offline: offline)

        // Rounds of 200 live entries in 40 deliver records (the deliver consumer hands them over)
        // while alice sends 20 messages (their `sent` replies come from the producer's delivery
        // reports), until a round in which a `sent` arrived between two delivered messages: the
        // two threads handed frames to the session at the same time. (EdgeTests'
        // LoopOutboxThreadsTests forces the same with two threads in lockstep.)
        var delivered: [StreamEntry] = [], sentIDs: [String] = [], received: [ServerFrameJSON] = []
        var overlapped = false
        for round in 0..<10 where !overlapped {
            let first = UInt64(delivered.count) + 1
            let entries = (first..<first + 200).map { messageEntry($0, from: bob, to: alice, body: "r\(round)m\($0)") }
            let records = stride(from: 0, to: entries.count, by: 5).map {
                DeliverEnvelope(user: alice, sessions: [session], entries: Array(entries[$0..<$0 + 5]), epoch: "e1")
            }
            let ids = (0..<20).map { "r\(round)s\($0)" }
            // One record at a time, so the deliver consumer hands them over in many batches.
            async let produced: Void = {
                for record in records { try await offline.deliver(record) }
            }()
            for id in ids { client.send(#"{"type":"send","id":"\#(id)","to":"\#(bob)","body":"x"}"#) }
            try await produced
            delivered += entries
            sentIDs += ids

            let start = received.count
            while received.filter({ $0.type == "message" }).count < delivered.count || received.filter({ $0.type == "sent" }).count < sentIDs.count {
                received.append(try await client.next())
            }
            let types = received[start...].map(\.type)
            if let firstMessage = types.firstIndex(of: "message"), let lastMessage = types.lastIndex(of: "message") {
                overlapped = types[firstMessage..<lastMessage].contains("sent")
            }
        }
        #expect(overlapped, "in some round a `sent` reply arrived between two delivered messages")
        #expect(received.filter { $0.type == "message" }.map(\.msg) == delivered.map(\.msg))
        // `sent` follows each produce batch's acknowledgement; batches may settle out of order.
        #expect(Set(received.filter { $0.type == "sent" }.compactMap(\.id)) == Set(sentIDs))
        #expect(received.allSatisfy { $0.type == "message" || $0.type == "sent" })
        await client.disconnect()
        await offline.stop()
    }

    @Test("bad frames, old and new, get the documented error frame and the session stays usable")
    func badFrames() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let offline = try await OfflineStandIn.start(topics: stack.topics, edgeID: EdgeShared.edgeID, producer: stack.producer)
        let alice = uniqueID("alice"), bob = uniqueID("bob"), group = "g:" + UUID().uuidString.lowercased()
        let (client, _) = try await connect(alice, port: stack.service.port, edgeID: EdgeShared.edgeID)
        let inbound = try await TopicReader.start(stack.topics.inbound, partitions: 2)
        let signals = try await TopicReader.start(stack.topics.signals, partitions: 2)

        let cases: [(frame: String, code: String, id: String?)] = [
            ("{nope", "bad_request", nil),
            ("[1,2,3]", "bad_request", nil),
            (#"{"id":"x0"}"#, "bad_request", "x0"),
            (#"{"type":"dance","id":"x1"}"#, "unknown_type", "x1"),
            (#"{"type":7}"#, "bad_request", nil),
            (#"{"type":"send","id":"c2","to":"\#(bob)","body":5}"#, "bad_request", "c2"),
            (#"{"type":"send","id":"c3","to":"not a user!","body":"hi"}"#, "invalid_recipient", "c3"),
            (#"{"type":"send","id":"c4","to":"","body":"hi"}"#, "invalid_recipient", "c4"),
            (#"{"type":"send","id":"c5","to":"\#(bob)","body":"\#(String(repeating: "x", count: 4097))"}"#, "too_large", "c5"),
            (#"{"type":"send","id":"c6","to":"\#(bob)","body":""}"#, "bad_request", "c6"),
            (#"{"type":"ack","msgs":["not-a-msg-id"]}"#, "bad_request", nil),
            (#"{"type":"ack","msgs":[]}"#, "bad_request", nil),
            (#"{"type":"watch","users":["bad id!"]}"#, "invalid_recipient", nil),
            (#"{"type":"send","id":"c7","to":"\#(bob)","conv":"\#(Conversation.direct(alice, bob))","body":"hi"}"#, "bad_request", "c7"),
            (#"{"type":"send","id":"c8","body":"hi"}"#, "bad_request", "c8"),
            (#"{"type":"send","id":"c9","conv":"dm:zzz:aaa","body":"hi"}"#, "bad_request", "c9"),
            (#"{"type":"send","id":"c10","conv":"g:bad id","body":"hi"}"#, "bad_request", "c10"),
            (#"{"type":"ack"}"#, "bad_request", nil),
            (#"{"type":"ack","seq":1,"msgs":["\#(MessageID.make())"]}"#, "bad_request", nil),
            (#"{"type":"ack","seq":-1}"#, "bad_request", nil),
            (#"{"type":"ack","seq":9007199254740992}"#, "bad_request", nil),
            (#"{"type":"read","conv":"\#(Conversation.direct(alice, bob))"}"#, "bad_request", nil),
            (#"{"type":"read","conv":"nope","cseq":1}"#, "bad_request", nil),
            (#"{"type":"read","conv":"\#(Conversation.direct(alice, bob))","cseq":"1"}"#, "bad_request", nil),
            (#"{"type":"sync"}"#, "bad_request", nil),
            (#"{"type":"sync","after":1,"epoch":"not an epoch"}"#, "bad_request", nil),
            (#"{"type":"sync","after":9007199254740992}"#, "bad_request", nil),
            (#"{"type":"history"}"#, "bad_request", nil),
            (#"{"type":"history","conv":"\#(Conversation.direct(alice, bob))","limit":0}"#, "bad_request", nil),
            (#"{"type":"history","conv":"\#(Conversation.direct(alice, bob))","limit":101}"#, "bad_request", nil),
            (#"{"type":"history","conv":"\#(Conversation.direct(alice, bob))","before":-3}"#, "bad_request", nil),
            (#"{"type":"conversations","limit":0}"#, "bad_request", nil),
            (#"{"type":"conversations","next":"\#(String(repeating: "n", count: 257))"}"#, "bad_request", nil),
            (#"{"type":"conversations","next":5}"#, "bad_request", nil),
            (#"{"type":"group_create","title":"t"}"#, "bad_request", nil),
            (#"{"type":"group_create","id":"g1"}"#, "bad_request", "g1"),
            (#"{"type":"group_create","id":"g2","title":""}"#, "bad_request", "g2"),
            (#"{"type":"group_create","id":"g3","title":"\#(String(repeating: "t", count: 129))"}"#, "too_large", "g3"),
            (#"{"type":"group_create","id":"g4","title":"t","members":["bad id!"]}"#, "invalid_recipient", "g4"),
            (#"{"type":"group_create","id":"g5","title":"t","members":\#(Array(repeating: "b", count: 1001))}"#, "too_large", "g5"),
            (#"{"type":"group_create","id":"g6","title":"t","members":"\#(bob)"}"#, "bad_request", "g6"),
            (#"{"type":"group_add","conv":"\#(group)"}"#, "bad_request", nil),
            (#"{"type":"group_add","conv":"\#(group)","members":[],"id":"a1"}"#, "bad_request", "a1"),  // an optional id is echoed too
            (#"{"type":"group_add","conv":"\#(Conversation.direct(alice, bob))","members":["\#(bob)"]}"#, "bad_request", nil),
            (#"{"type":"group_add","conv":"g:bad id","members":["\#(bob)"]}"#, "bad_request", nil),
            (#"{"type":"group_add","members":["\#(bob)"]}"#, "bad_request", nil),
            (#"{"type":"group_remove","conv":"\#(group)","members":["bad id!"],"id":"r1"}"#, "invalid_recipient", "r1"),
            (#"{"type":"group_remove","conv":"\#(group)","members":\#(Array(repeating: "b", count: 1001))}"#, "too_large", nil),
            (#"{"type":"group_leave"}"#, "bad_request", nil),
            (#"{"type":"group_leave","conv":"\#(Conversation.direct(alice, bob))","id":"l1"}"#, "bad_request", "l1"),
            (#"{"type":"group_leave","conv":"\#(group)","id":5}"#, "bad_request", nil),
            (#"{"type":"members"}"#, "bad_request", nil),
            (#"{"type":"members","conv":"\#(Conversation.direct(alice, bob))"}"#, "bad_request", nil),
            (#"{"type":"members","conv":"\#(group)","next":"\#(String(repeating: "n", count: 257))"}"#, "bad_request", nil),
            (#"{"type":"typing"}"#, "bad_request", nil),
            (#"{"type":"typing","conv":"nope"}"#, "bad_request", nil),
            (#"{"type":"typing","conv":"dm:zzz:aaa"}"#, "bad_request", nil),
            (#"{"type":"typing","conv":"\#(Conversation.direct(bob, "zed"))"}"#, "not_member", nil),
        ]
        for (frame, code, id) in cases {
            client.send(frame)
            let answers = try await client.roundTrip()
            #expect(answers.count == 1, "\(frame.prefix(60)): \(answers)")
            #expect(answers.first?.type == "error", "\(frame.prefix(60))")
            #expect(answers.first?.code == code, "\(frame.prefix(60))")
            #expect(answers.first?.id == id, "\(frame.prefix(60))")
            #expect((answers.first?.message ?? "").isEmpty == false)
        }
        client.sendBinary([0, 1, 2, 3])
        let binary = try await client.roundTrip()
        #expect(binary.map(\.type) == ["error"])
        #expect(binary.first?.code == "bad_request")

        // Still a working session, and none of the refused frames reached the broker.
        client.send(#"{"type":"send","id":"ok","to":"\#(bob)","body":"fine"}"#)
        let sent = try await client.next()
        #expect(sent.type == "sent" && sent.id == "ok")
        _ = try await inbound.waitFor(InboundEnvelope.self, "the good send") { $0.first { $0.value.message?.msg == sent.msg } }
        #expect(inbound.decoded(InboundEnvelope.self).filter { $0.value.message?.from == alice }.map { $0.value.message?.id } == ["ok"])
        #expect(!inbound.decoded(InboundEnvelope.self).contains { $0.value.group?.by == alice }, "no group change was produced")
        client.send(#"{"type":"typing","conv":"\#(group)"}"#)
        let typing = try await signals.waitFor(SignalEnvelope.self, "the good typing") { $0.filter { $0.value.user == alice }.nilIfEmpty }
        #expect(typing.map(\.value.conv) == [group], "only the good typing was produced")
        client.send(#"{"type":"conversations"}"#)
        let queries = try await offline.waitForQuery("the good query", of: alice) { $0.kind == .conversations }
        #expect(queries.map(\.value.kind) == [.sync, .conversations], "the first pull, then the good query only")
        #expect(offline.moves(of: alice).isEmpty)
        await inbound.stop()
        await signals.stop()
        await offline.stop()
        await client.disconnect()
    }

    @Test("a frame above max-frame-bytes closes that session with 1009; other sessions stay")
    func oversizeFrame() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let (big, _) = try await connect(uniqueID("olaf"), port: stack.service.port, edgeID: EdgeShared.edgeID)
        let (other, _) = try await connect(uniqueID("otto"), port: stack.service.port, edgeID: EdgeShared.edgeID)
        big.send(#"{"type":"send","id":"big","to":"bob","body":"\#(String(repeating: "y", count: 20_000))"}"#)
        let close = try await big.closeFrame()
        #expect(close?.closeCode == .messageTooLarge)
        #expect(try await other.roundTrip().isEmpty)
        await other.disconnect()
    }

    @Test("sessions opening and closing produce connect and disconnect events keyed by the edge id")
    func presenceEvents() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let events = try await TopicReader.start(stack.topics.presenceEvents, partitions: 2)
        let user = uniqueID("pia")
        let (client, session) = try await connect(user, port: stack.service.port, edgeID: EdgeShared.edgeID)
        let connected = try await events.waitFor(PresenceEvent.self, "the connect event") {
            $0.first { $0.value.kind == .connect && $0.value.session == session }
        }
        #expect(connected.key == EdgeShared.edgeID)
        #expect(connected.value.user == user && connected.value.edge == EdgeShared.edgeID)

        // watch asks presence-svc through a query event.
        client.send(#"{"type":"watch","users":["someone"]}"#)
        let query = try await events.waitFor(PresenceEvent.self, "the query event") {
            $0.first { $0.value.kind == .query && $0.value.session == session }
        }
        #expect(query.value.users == ["someone"] && query.value.user == user && query.key == EdgeShared.edgeID)

        await client.disconnect()
        let disconnected = try await events.waitFor(PresenceEvent.self, "the disconnect event") {
            $0.first { $0.value.kind == .disconnect && $0.value.session == session }
        }
        #expect(disconnected.key == EdgeShared.edgeID)
        #expect(disconnected.value.user == user)

        let edgeEvents = events.decoded(PresenceEvent.self).filter { $0.value.edge == EdgeShared.edgeID }
        #expect(edgeEvents.allSatisfy { $0.key == EdgeShared.edgeID })
        #expect(edgeEvents.first?.value.kind == .edgeStarted)
        #expect(edgeEvents.contains { $0.value.kind == .heartbeat })
        await events.stop()
    }

    @Test("a send over the rate is answered rate_limited with its client id, so every send gets exactly one answer")
    func rateLimitedSendsAreNamed() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-rate")
        try await withOwnEdge("edge-rate", prefix: prefix, extra: ["--send-rate", "1", "--send-burst", "5"]) { edge, edgeID in
            let (client, _) = try await connect(uniqueID("rat"), port: edge.port, edgeID: edgeID)
            let peer = uniqueID("peer")
            let ids = (0..<8).map { "s\($0)" }
            for id in ids { client.send(#"{"type":"send","id":"\#(id)","to":"\#(peer)","body":"hi"}"#) }
            let answers = try await eventually("an answer to every send") { () -> [ServerFrameJSON]? in
                let answers = client.frames.filter { ($0.type == "sent" || $0.type == "error") && $0.id != nil }
                return Set(answers.compactMap(\.id)) == Set(ids) ? answers : nil
            }
            #expect(answers.count == ids.count, "one answer per send")
            let refused = answers.filter { $0.type == "error" }
            #expect(!refused.isEmpty, "8 sends at once are over a burst of 5")
            #expect(refused.allSatisfy { $0.code == "rate_limited" })
            await client.disconnect()
        }
    }

    @Test("a flood closes only the flooding session with 1008; another user's session keeps working")
    func flood() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-flood")
        try await withOwnEdge("edge-flood", prefix: prefix, extra: ["--dev-login", "true", "--send-rate", "1", "--send-burst", "5"]) { edge, edgeID in
            let events = try await TopicReader.start(Topics(prefix: prefix).presenceEvents, partitions: 2)
            let (flooder, floodSession) = try await connect(uniqueID("flo"), port: edge.port, edgeID: edgeID)
            let (calm, _) = try await connect(uniqueID("cal"), port: edge.port, edgeID: edgeID)
            for _ in 0..<60 { flooder.send(#"{"type":"ping"}"#) }
            let close = try await flooder.closeFrame()
            #expect(close?.closeCode == .policyViolation)
            // Frames still queued when the flood closes the session are dropped, so the client
            // may or may not see its `rate_limited` errors; it never sees more than it may send.
            let answers = flooder.frames.dropFirst()  // after the welcome
            #expect(answers.allSatisfy { $0.type == "pong" || ($0.type == "error" && $0.code == "rate_limited") })
            #expect(answers.filter { $0.type == "pong" }.count <= 10)
            _ = try await events.waitFor(PresenceEvent.self, "the flooder's disconnect") {
                $0.first { $0.value.kind == .disconnect && $0.value.session == floodSession }
            }

            #expect(try await calm.roundTrip().isEmpty)
            #expect(!calm.isClosed)
            await calm.disconnect()
            await events.stop()
        }
    }

    @Test("the edge pings every session; one that never answers is closed within two intervals, one that answers stays")
    func keepAlive() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-ping")
        try await withOwnEdge("edge-ping", prefix: prefix, extra: ["--ping-interval", "1s"]) { edge, edgeID in
            let alive = try await connect(uniqueID("pong"), port: edge.port, edgeID: edgeID).0  // its client answers pings
            // Raw bytes: this client reads but never answers a ping.
            let silent = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?token=\(try await signToken(user: uniqueID("mute")))")
            let code = try await eventually("the silent session's close frame", timeout: .seconds(10)) { silent.closeCode }
            #expect(code == 1001)
            #expect(silent.frames.contains { $0.opcode == 0x9 }, "it was pinged first")
            _ = try await eventually("the silent connection closed") { silent.isClosed ? true : nil }
            // The sweep that closed the silent session judged the answering one too (it connected
            // first, and had answered the previous round's ping).
            #expect(try await alive.roundTrip().isEmpty, "the answering session is still open")
            await silent.close()
            await alive.disconnect()
        }
    }

    @Test("a user over --max-sessions-per-user gets 1008 without a session; others are unaffected")
    func tooManySessions() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-max")
        try await withOwnEdge("edge-max", prefix: prefix, extra: ["--max-sessions-per-user", "2"]) { edge, edgeID in
            let user = uniqueID("max")
            let (first, _) = try await connect(user, port: edge.port, edgeID: edgeID)
            let (second, _) = try await connect(user, port: edge.port, edgeID: edgeID)
            // Raw bytes rather than a WebSocket client: exactly what the edge writes.
            let third = try await RawWebSocket.upgrade(port: edge.port, path: "/ws?token=\(try await signToken(user: user))")
            let code = try await eventually("the refused session's close frame") { third.closeCode }
            #expect(code == 1008)
            #expect(third.status == 101)
            #expect(!third.frames.contains { $0.opcode == 0x1 }, "no welcome for a refused session")
            await third.close()
            #expect(try await first.roundTrip().isEmpty)
            #expect(try await second.roundTrip().isEmpty)
            // Dev login is off here: no login endpoint and no seed endpoint.
            #expect(try await httpRequest(port: edge.port, .post, "/api/login", body: #"{"user":"x"}"#).status != .ok)
            #expect(try await upgradeStatus(port: edge.port, path: "/read?user=\(user)") != .switchingProtocols)
            await first.disconnect()
            await second.disconnect()
        }
    }

    @Test("the seed's GET /read: no token, raw text frames of other users' messages, and what it is sent counts as acked")
    func seedMode() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let offline = try await OfflineStandIn.start(topics: stack.topics, edgeID: EdgeShared.edgeID, producer: stack.producer)
        let port = stack.service.port
        let user = uniqueID("seed"), bob = uniqueID("bob")
        #expect(try await upgradeStatus(port: port, path: "/read") == .badRequest)
        #expect(try await upgradeStatus(port: port, path: "/read?user=not%20valid") == .badRequest)
        let inbound = try await TopicReader.start(stack.topics.inbound, partitions: 2)
        let client = WebSocketTestClient(user, port: port, path: "/read?user=\(user)", token: nil)
        let pull = try await offline.waitForQuery("the seed session's first pull", of: user) { $0.kind == .sync }.last?.value
        #expect(pull?.device == "~v1" && pull?.subscribe == true && pull?.after == nil)
        let session = try #require(pull?.session)

        client.send(#"{"user":"\#(bob)","msg":"hi from the tutorial"}"#)
        let sent = try await inbound.waitFor(InboundEnvelope.self, "the seed send") { $0.first { $0.value.message?.from == user } }
        #expect(sent.key == Conversation.direct(user, bob))
        #expect(sent.value.message?.to == bob && sent.value.message?.body == "hi from the tutorial")
        #expect(sent.value.session == session)

        // The replay: its own message is not shown, bob's is, as raw text; the edge acks it all.
        let own = messageEntry(1, from: user, to: bob, body: "hi from the tutorial")
        let message = messageEntry(2, from: bob, to: user, body: "raw text please")
        try await offline.deliver(DeliverEnvelope(user: user, sessions: [session], entries: [own, message], page: syncPage(after: 0, head: 2)))
        #expect(try await client.nextItem() == .text("raw text please"))
        let ack = try await offline.waitForMove("the ack on the seed session's behalf", of: user) { $0.kind == .ack }.last
        #expect(ack?.value == CursorMove(kind: .ack, user: user, device: "~v1", session: session, edge: EdgeShared.edgeID, seq: 2, after: 0))
        #expect(ack?.key == user)

        // Live: the same.
        try await offline.deliver(DeliverEnvelope(user: user, sessions: [session], entries: [messageEntry(3, from: bob, to: user, body: "live")]))
        #expect(try await client.nextItem() == .text("live"))
        try await offline.waitForMove("the live ack", of: user) { $0.seq == 3 && $0.after == 2 }
        #expect(client.all.count == 2, "no welcome, no sent, no synced: the seed protocol has none")

        await client.disconnect()
        try await offline.waitForQuery("the unsubscribe", of: user) { $0.kind == .unsubscribe && $0.session == session }
        await inbound.stop()
        await offline.stop()
    }

    @Test("graceful shutdown closes sessions with 1001 and reports their disconnects and edge_stopped")
    func gracefulShutdown() async throws {
        let prefix = TestEnvironment.uniquePrefix("edge-stop")
        let edgeID = uniqueID("edge-stop")
        let events = try await eventsReader(prefix: prefix)
        let edge = try await startEdge(prefix: prefix, edgeID: edgeID)
        let user = uniqueID("stop")
        let (client, session) = try await connect(user, port: edge.port, edgeID: edgeID)
        try await edge.stop()
        let close = try await client.closeFrame()
        #expect(close?.closeCode == .goingAway)
        let kinds = try await events.waitFor(PresenceEvent.self, "edge_stopped") { records -> [PresenceEvent]? in
            let mine = records.map(\.value).filter { $0.edge == edgeID }
            return mine.contains { $0.kind == .edgeStopped } ? mine : nil
        }
        #expect(kinds.first?.kind == .edgeStarted)
        #expect(kinds.contains { $0.kind == .connect && $0.session == session })
        #expect(kinds.contains { $0.kind == .disconnect && $0.session == session })
        await events.stop()
    }

    @Test("the edge follows every partition of presence.changes, also when its --topic-partitions differs from the topic's")
    func presenceChangesOnEveryPartition() async throws {
        let stack = try sharedStack(EdgeShared.stack)
        let prefix = TestEnvironment.uniquePrefix("edge-parts")
        let topics = Topics(prefix: prefix)
        // The shared topics exist with 2 partitions (another process created them) ...
        try await createTopics(TopicSetup.shared(topics, partitions: 2))
        // ... and this edge is configured with 1.
        try await withOwnEdge("edge-parts", prefix: prefix, extra: ["--topic-partitions", "1"]) { edge, edgeID in
            let watcher = uniqueID("watcher"), x = uniqueID("x"), y = uniqueID("y")
            let (client, session) = try await connect(watcher, port: edge.port, edgeID: edgeID)
            client.send(#"{"type":"watch","users":["\#(x)","\#(y)"]}"#)
            #expect(try await client.roundTrip().isEmpty)
            // presence-svc's answer allows both (its status frame shows it was applied).
            let answer = DeliverEnvelope(user: watcher, sessions: [session], presence: [PresenceStatus(user: x, status: .offline)], watch: [x, y])
            try await stack.producer.sendRaw(encodeRecord(answer), topic: topics.deliver(edge: edgeID), key: watcher)
            #expect(try await client.next() == ServerFrameJSON(type: "presence", user: x, status: "offline"))
            for (user, partition) in [(y, Int32(0)), (x, Int32(1))] {
                let change = PresenceChange(kind: .sessionOnline, user: user, session: "s", edge: "e", status: .online, transition: true)
                _ = try await stack.producer.producer.send(KafkaOutgoingRecord(topic: topics.presenceChanges, key: Array(user.utf8),
                                                                               value: Envelope.encode(change), partition: partition))
            }
            // The two partitions are read independently: the frames may come in either order.
            var online: Set<String> = []
            while online != [x, y] {
                let frame = try await client.next(where: { $0.type == "presence" })
                #expect(frame.status == "online")
                online.insert(frame.user ?? "")
            }
            await client.disconnect()
        }
    }
}

/// Reads `prefix`'s presence.events (created first, with the 2 partitions the services would give it).
private func eventsReader(prefix: String) async throws -> TopicReader {
    let topics = Topics(prefix: prefix)
    try await createTopics(TopicSetup.shared(topics, partitions: 2))
    return try await TopicReader.start(topics.presenceEvents, partitions: 2)
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }

    /// nil when empty (for waits on "some").
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
