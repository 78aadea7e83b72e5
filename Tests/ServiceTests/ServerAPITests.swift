import Edge
import Foundation
import ParleyKafka
import ParleyProtocol
import ParleyServiceKit
import ParleyTestSupport
import Testing

/// The API key the edges under test read from their `--api-key-file`.
let serverAPIKey = "server-api-test-key-0123456789abcdef"

/// A file holding ``serverAPIKey`` (with a final newline, as `echo` writes it).
func serverAPIKeyFile() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("parley-api-key-\(UUID().uuidString.prefix(8))").path
    try (serverAPIKey + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// One server API request to an edge's admin port with the key (`key: nil`: none, or another one).
func apiRequest(_ port: Int, _ method: String, _ path: String, body: String = "", key: String? = serverAPIKey) async throws -> RawHTTP {
    var headers = [("Content-Type", "application/json")]
    if let key { headers.append(("Authorization", "Bearer \(key)")) }
    return try await RawHTTP.request(port: port, path, method: method, headers: headers, body: body)
}

/// The JSON object of an answer's body.
func jsonObject(_ answer: RawHTTP) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any] ?? [:]
}

/// The server API on ws-edge's admin port, against the real broker: what it produces (sends,
/// group changes, disconnects on every edge's deliver topic) and how it waits for the answers
/// offline-svc and presence-svc give (played here on the edge's deliver topic; the e2e suite
/// runs them for real). Every route: no key, a wrong key, bad input, good input.
@Suite("server API")
struct ServerAPITests {
    /// Runs `body` with an edge whose server API is on, on a fresh prefix.
    func withAPIEdge(_ name: String, extra: [String] = [], _ body: (RunningService, String, Topics) async throws -> Void) async throws {
        let prefix = TestEnvironment.uniquePrefix(name)
        try await withOwnEdge(name, prefix: prefix, extra: ["--api-key-file", try serverAPIKeyFile()] + extra) { edge, edgeID in
            try await body(edge, edgeID, Topics(prefix: prefix))
        }
    }

    /// The table's routes with their parameters filled in.
    static let routes: [(method: String, path: String)] = ServerAPIRoutes.table.map { route in
        (route.method, route.path.replacingOccurrences(of: "{conv}", with: "g:abc").replacingOccurrences(of: "{user}", with: "alice"))
    }

    @Test("every route answers 401 without the key or with a wrong one, before it reads anything; none is on the public port")
    func keyRequired() async throws {
        #expect(Self.routes.count == 7)
        try await withAPIEdge("api-keys") { edge, _, _ in
            for (method, path) in Self.routes {
                for key: String? in [nil, "wrong-key-0123456789abcdefghijklmn", String(serverAPIKey.dropLast()), serverAPIKey + "x"] {
                    let answer = try await apiRequest(edge.adminPort, method, path, body: "{}", key: key)
                    #expect(answer.status == 401, "\(method) \(path) with key \(key ?? "none"): \(answer.status)")
                    #expect(answer.headers["www-authenticate"] == "Bearer")
                    #expect((jsonObject(answer)["error"] as? [String: Any])?["code"] as? String == "unauthorized")
                }
                // 404, or 400 where the public port's path rule refuses the `:` of a conversation id.
                let onPublic = try await apiRequest(edge.port, method, path, body: "{}").status
                #expect(onPublic == (path.contains(":") ? 400 : 404), "\(path) on the public port: \(onPublic)")
            }
        }
        // Without a key file the API does not exist.
        try await withOwnEdge("api-off", prefix: TestEnvironment.uniquePrefix("api-off"), extra: []) { (edge, _) async throws in
            for (method, path) in Self.routes {
                let answer = try await apiRequest(edge.adminPort, method, path, body: "{}")
                #expect(answer.status == 404, "\(path) without an API key file")
            }
        }
    }

    @Test("bad input is refused with 400 (or 403 for a dm the sender is not in) and produces nothing")
    func badInput() async throws {
        try await withAPIEdge("api-bad") { edge, _, topics in
            let inbound = try await TopicReader.start(topics.inbound, partitions: 2)
            let refusals: [(String, String, String, Int)] = [
                ("POST", "/api/v1/publish", "not json", 400),
                ("POST", "/api/v1/publish", #"{"id":"c1","to":"alice"}"#, 400),
                ("POST", "/api/v1/publish", #"{"id":"c1","body":"hi"}"#, 400),
                ("POST", "/api/v1/publish", #"{"id":"c1","to":"bad id!","body":"hi"}"#, 400),
                ("POST", "/api/v1/publish", #"{"id":"c1","to":"alice","body":"hi","from":"bad id!"}"#, 400),
                ("POST", "/api/v1/publish", #"{"id":"c1","conv":"dm:alice:bob","body":"hi","from":"carol"}"#, 403),
                ("POST", "/api/v1/groups", #"{"title":"t","members":["bob"]}"#, 400),
                ("POST", "/api/v1/groups", #"{"id":"g1","title":"t","members":["bad id!"]}"#, 400),
                ("POST", "/api/v1/groups/g:abc/members", #"{"action":"promote","members":["bob"]}"#, 400),
                ("POST", "/api/v1/groups/g:abc/members", #"{"members":["bob"]}"#, 400),
                ("POST", "/api/v1/groups/not-a-conv/members", #"{"action":"add","members":["bob"]}"#, 400),
                ("POST", "/api/v1/users/bad%20id/disconnect", "", 400),
                ("GET", "/api/v1/users/bad%20id/presence", "", 400),
                ("GET", "/api/v1/users/bad%20id/stream", "", 400),
                ("GET", "/api/v1/conversations/g:abc/history?limit=1000", "", 400),
                ("GET", "/api/v1/conversations/g:abc/history?before=x", "", 400),
                ("GET", "/api/v1/conversations/nonsense/history", "", 400),
                ("GET", "/api/v1/conversations/g:abc/history?as=bad%20id", "", 400),
            ]
            for (method, path, body, status) in refusals {
                let answer = try await apiRequest(edge.adminPort, method, path, body: body)
                #expect(answer.status == status, "\(method) \(path) \(body): \(answer.status) \(answer.body)")
                #expect((jsonObject(answer)["error"] as? [String: Any])?["message"] is String, "\(path): \(answer.body)")
            }
            // A good publish after them is the first record on chat.inbound.
            #expect(try await apiRequest(edge.adminPort, "POST", "/api/v1/publish", body: #"{"id":"ok","to":"alice","body":"hi"}"#).status == 202)
            let first = try await inbound.waitFor(InboundEnvelope.self, "the good publish") { $0.first?.value }
            #expect(first.message?.id == "ok")
            await inbound.stop()
        }
    }

    @Test("publish and group changes go to chat.inbound as the system user or the named one, answered 202 once the broker has them")
    func writes() async throws {
        try await withAPIEdge("api-writes", extra: ["--api-system-user", "announcer"]) { edge, edgeID, topics in
            let inbound = try await TopicReader.start(topics.inbound, partitions: 2)
            let alice = uniqueID("alice"), bob = uniqueID("bob")
            let published = try await apiRequest(edge.adminPort, "POST", "/api/v1/publish", body: #"{"id":"n1","to":"\#(alice)","body":"welcome"}"#)
            #expect(published.status == 202, "\(published.body)")
            let answer = jsonObject(published)
            #expect(answer["conv"] as? String == Conversation.direct("announcer", alice) && answer["from"] as? String == "announcer")
            let named = try await apiRequest(edge.adminPort, "POST", "/api/v1/publish",
                                             body: #"{"id":"n2","conv":"\#(Conversation.direct(alice, bob))","body":"hi","from":"\#(bob)"}"#)
            #expect(named.status == 202, "\(named.body)")
            let created = try await apiRequest(edge.adminPort, "POST", "/api/v1/groups",
                                               body: #"{"id":"team","title":"Team","members":["\#(alice)","\#(bob)","\#(alice)"]}"#)
            #expect(created.status == 202, "\(created.body)")
            let conv = try #require(jsonObject(created)["conv"] as? String)
            #expect(conv.hasPrefix("g:"))
            let again = try await apiRequest(edge.adminPort, "POST", "/api/v1/groups", body: #"{"id":"team","title":"Team","members":[]}"#)
            #expect(jsonObject(again)["conv"] as? String == conv, "a retried create names the same group")
            let added = try await apiRequest(edge.adminPort, "POST", "/api/v1/groups/\(conv)/members",
                                             body: #"{"action":"remove","members":["\#(bob)"],"by":"\#(alice)"}"#)
            #expect(added.status == 202, "\(added.body)")

            let records = try await inbound.waitFor(InboundEnvelope.self, "the five writes") { $0.count >= 5 ? $0.map(\.value) : nil }
            let messages = records.compactMap(\.message)
            #expect(messages.map(\.body) == ["welcome", "hi"])
            #expect(messages.map(\.from) == ["announcer", bob])
            #expect(messages[0].conv == Conversation.direct("announcer", alice) && messages[0].id == "n1")
            #expect(messages[0].msg == answer["msg"] as? String)
            let groups = records.compactMap(\.group)
            #expect(groups.map(\.action) == [.create, .create, .remove])
            #expect(groups[0].conv == conv && groups[0].by == "announcer" && groups[0].title == "Team" && groups[0].members == [alice, bob])
            #expect(groups[2].by == alice && groups[2].members == [bob])
            #expect(records.allSatisfy { $0.edge == edgeID })
            await inbound.stop()
        }
    }

    @Test("disconnect closes the user's sessions on every edge with 1008, and only that user's")
    func disconnectOnEveryEdge() async throws {
        try await withAPIEdge("api-disconnect") { edge, edgeID, topics in
            let otherID = uniqueID("edge2")
            let other = try await startEdge(prefix: topics.prefix, edgeID: otherID)
            do {
                let alice = uniqueID("alice"), bob = uniqueID("bob")
                let (here, _) = try await connect(alice, port: edge.port, edgeID: edgeID)
                let (there, _) = try await connect(alice, port: other.port, edgeID: otherID)
                let (bystander, _) = try await connect(bob, port: edge.port, edgeID: edgeID)
                let answer = try await apiRequest(edge.adminPort, "POST", "/api/v1/users/\(alice)/disconnect")
                #expect(answer.status == 202, "\(answer.body)")
                #expect((jsonObject(answer)["edges"] as? Int ?? 0) >= 2)
                #expect(try await here.closeFrame()?.closeCode == .policyViolation)
                #expect(try await there.closeFrame()?.closeCode == .policyViolation)
                #expect(try await bystander.roundTrip().isEmpty, "bob's session stays open")
                await bystander.disconnect()
            } catch {
                try? await other.stop()
                throw error
            }
            try await other.stop()
        }
    }

    @Test("presence, history and stream ask like a session does and answer with what comes back for the request")
    func reads() async throws {
        try await withAPIEdge("api-reads") { edge, edgeID, topics in
            let producer = try TestProducer("api-reads")
            let queries = try await TopicReader.start(topics.queries, partitions: 2)
            let events = try await TopicReader.start(topics.presenceEvents, partitions: 2)
            let deliver = topics.deliver(edge: edgeID)
            let alice = uniqueID("alice")
            func answer(_ envelope: DeliverEnvelope) async throws {
                try await producer.sendRaw(Envelope.encodeBatches([envelope], maxBytes: .max)[0], topic: deliver, key: envelope.user)
            }

            async let presence = apiRequest(edge.adminPort, "GET", "/api/v1/users/\(alice)/presence")
            let asked = try await events.waitFor(PresenceEvent.self, "the presence query") { events in
                events.map(\.value).first { $0.kind == .query && $0.user == alice }
            }
            #expect(asked.users == [alice] && asked.edge == edgeID)
            let session = try #require(asked.session)
            try await answer(DeliverEnvelope(user: alice, sessions: [session], presence: [PresenceStatus(user: alice, status: .offline, lastSeen: 42)],
                                             watch: [alice]))
            let status = try await presence
            #expect(status.status == 200, "\(status.body)")
            #expect(jsonObject(status)["status"] as? String == "offline" && jsonObject(status)["last_seen"] as? Int == 42)

            let conv = Conversation.direct(alice, "zed")
            async let history = apiRequest(edge.adminPort, "GET", "/api/v1/conversations/\(conv)/history?before=9&limit=2")
            let query = try await queries.waitFor(QueryEnvelope.self, "the history query") { $0.map(\.value).first { $0.kind == .history } }
            #expect(query.user == alice && query.conv == conv && query.before == 9 && query.limit == 2 && query.edge == edgeID)
            let message = ChatMessage(msg: MessageID.make(), from: "zed", to: alice, conv: conv, cseq: 8, body: "old", ts: 1, id: nil)
            try await answer(DeliverEnvelope(user: alice, sessions: [query.session], history: HistoryPage(conv: conv, messages: [message], more: true)))
            let page = try await history
            #expect(page.status == 200, "\(page.body)")
            #expect(jsonObject(page)["more"] as? Bool == true && (jsonObject(page)["messages"] as? [[String: Any]])?.first?["body"] as? String == "old")

            async let refused = apiRequest(edge.adminPort, "GET", "/api/v1/conversations/g:xyz/history?as=\(alice)")
            let groupQuery = try await queries.waitFor(QueryEnvelope.self, "the group history query") { $0.map(\.value).first { $0.conv == "g:xyz" } }
            try await answer(DeliverEnvelope(user: alice, sessions: [groupQuery.session], error: ProtocolError(.notMember, "not a member of g:xyz")))
            let forbidden = try await refused
            #expect(forbidden.status == 403 && (jsonObject(forbidden)["error"] as? [String: Any])?["code"] as? String == "not_member")

            async let stream = apiRequest(edge.adminPort, "GET", "/api/v1/users/\(alice)/stream")
            let streamQuery = try await queries.waitFor(QueryEnvelope.self, "the stream query") { $0.map(\.value).first { $0.kind == .stream } }
            #expect(streamQuery.user == alice)
            let state = StreamState(user: alice, epoch: "e7", head: 12, first: 3, devices: [DeviceCursor(device: "phone", cursor: 10)])
            try await answer(DeliverEnvelope(user: alice, sessions: [streamQuery.session], stream: state))
            let streamAnswer = try await stream
            #expect(streamAnswer.status == 200, "\(streamAnswer.body)")
            let object = jsonObject(streamAnswer)
            #expect(object["epoch"] as? String == "e7" && object["head"] as? Int == 12 && object["first"] as? Int == 3)
            #expect((object["devices"] as? [[String: Any]])?.first?["cursor"] as? Int == 10)

            #expect(Set([session, query.session, groupQuery.session, streamQuery.session]).count == 4, "each request asks under its own id")
            await queries.stop()
            await events.stop()
            await producer.shutdown()
        }
    }
}
