import Foundation
import HTTPTypes
import Hummingbird
import ParleyKafka
import ParleyProtocol

/// What application backends may do through the server API. Every operation takes the path a
/// session's would: sends and group changes go to `chat.inbound` as ``InboundEnvelope``s (relay-svc
/// checks them like any other), queries go to `chat.queries` or `presence.events` under a request
/// id of their own and their answers come back on this edge's deliver topic (``APIAnswers``), a
/// disconnect goes to every edge's deliver topic. Bodies are the client frames' bodies and are
/// validated by the same rules (``ClientFrame``).
struct ServerAPI: Sendable {
    let edge: EdgeContext
    let key: APIKey
    /// Lists the deliver topics (every edge) for a disconnect.
    let kafkaAdmin: KafkaAdmin
    /// How long a request waits for offline-svc's or presence-svc's answer.
    static let answerTimeout = Duration.seconds(10)

    private var systemUser: String { edge.configuration.apiSystemUser }

    // MARK: - Writes

    /// `POST /api/v1/publish`: a message from `from` (default: the system user) into `conv`, or
    /// the dm with `to`; 202 once the broker has it (relay-svc may still refuse it: the
    /// sender's stream then gets a `rejected` entry).
    func publish(_ object: [String: Any]) async throws -> Response {
        let from = try actor(object, field: "from")
        guard case .send(let send) = try frame("send", object) else { throw APIError.badRequest("expected a send") }
        let conv = send.to.map { Conversation.direct(from, $0) } ?? send.conv ?? ""
        guard conv.hasPrefix("g:") || Conversation.names(conv, user: from) else {
            throw APIError(ProtocolError(.notMember, "\(from) is not a member of \(conv)"))
        }
        let (msg, ts) = Self.newID()
        let message = ChatMessage(msg: msg, from: from, to: Conversation.peer(in: conv, of: from), conv: conv, body: send.body, ts: ts,
                                  id: send.id)
        edge.metrics.messagesIn.increment()
        try await produce(InboundEnvelope(message: message, edge: edge.id, session: APIAnswers.idPrefix + "publish"), what: "the message")
        return try Self.json(.accepted, Accepted(msg: msg, conv: conv, ts: ts, id: send.id, from: from))
    }

    /// `POST /api/v1/groups`: a group created by `by` (default: the system user, then its admin).
    func createGroup(_ object: [String: Any]) async throws -> Response {
        let by = try actor(object, field: "by")
        guard case .groupCreate(let create) = try frame("group_create", object) else { throw APIError.badRequest("expected a group") }
        let conv = GroupID.derive(creator: by, clientID: create.id)
        let members = FrameHandler.distinct(create.members).filter { $0 != by }
        return try await group(.create, conv: conv, by: by, clientID: create.id, title: create.title, members: members)
    }

    /// `POST /api/v1/groups/{conv}/members`: `action` `add` or `remove` of `members` by `by`
    /// (an admin of the group; default: the system user).
    func changeMembers(conv: String, _ object: [String: Any]) async throws -> Response {
        let by = try actor(object, field: "by")
        let action: GroupOperation.Action
        switch object["action"] as? String {
        case "add": action = .add
        case "remove": action = .remove
        default: throw APIError.badRequest("action must be add or remove")
        }
        var fields = object
        fields["conv"] = conv
        fields["action"] = nil
        let change: ClientFrame.GroupChange
        switch try frame(action == .add ? "group_add" : "group_remove", fields) {
        case .groupAdd(let frame), .groupRemove(let frame): change = frame
        default: throw APIError.badRequest("expected a group change")
        }
        return try await group(action, conv: change.conv, by: by, clientID: change.id, members: FrameHandler.distinct(change.members))
    }

    /// `POST /api/v1/users/{user}/disconnect`: every edge closes `user`'s sessions (1008); 202
    /// once every edge's deliver topic has the request.
    func disconnect(user: String) async throws -> Response {
        let topics: [String]
        do {
            topics = try await kafkaAdmin.topicNames(prefix: edge.configuration.common.topics.deliver(edge: ""), timeout: .seconds(5))
        } catch {
            throw APIError.unavailable("the list of edges", underlying: error)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for topic in topics {
                group.addTask {
                    try await produced("the disconnect") { done in
                        edge.publisher.publishDeliver(DeliverEnvelope(user: user, disconnect: true), topic: topic, completion: done)
                    }
                }
            }
            try await group.waitForAll()
        }
        return try Self.json(.accepted, Disconnected(user: user, edges: topics.count))
    }

    // MARK: - Reads

    /// `GET /api/v1/users/{user}/presence`: presence-svc's status of `user`.
    func presence(user: String) async throws -> Response {
        let answer = try await ask("presence-svc") { id in
            edge.publisher.publishPresence(.query, user: user, session: id, users: [user])
        }
        guard let status = answer.presence.first(where: { $0.user == user }) else { throw APIError.timeout("presence-svc") }
        return Self.wire(status)
    }

    /// `GET /api/v1/conversations/{conv}/history?as=&before=&limit=`: a page of `conv` as member
    /// `as` sees it (default: a dm's first member, a group's system user).
    func history(conv: String, as reader: String?, before: String?, limit: String?) async throws -> Response {
        var fields: [String: Any] = ["conv": conv]
        if let before { fields["before"] = try Self.number(before, "before") }
        if let limit { fields["limit"] = try Self.number(limit, "limit") }
        guard case .history(let query) = try frame("history", fields) else { throw APIError.badRequest("expected a history query") }
        let user = reader ?? Conversation.directMembers(conv)?.0 ?? systemUser
        guard Identifier.isValid(user) else { throw APIError.badRequest("as must be 1-64 characters of A-Z a-z 0-9 _ . -") }
        let answer = try await queryOffline(QueryEnvelope(kind: .history, user: user, device: Self.device, session: "", edge: edge.id,
                                                          conv: query.conv, before: query.before, limit: query.limit))
        guard let page = answer.history else { throw APIError.timeout("offline-svc") }
        return Self.wire(page)
    }

    /// `GET /api/v1/users/{user}/stream`: the stream's epoch, head, first retained `seq` and
    /// each device's cursor.
    func stream(user: String) async throws -> Response {
        let answer = try await queryOffline(QueryEnvelope(kind: .stream, user: user, device: Self.device, session: "", edge: edge.id))
        guard let state = answer.stream else { throw APIError.timeout("offline-svc") }
        return Self.wire(state)
    }

    // MARK: - Helpers

    /// The device queries of the API name: an identifier like any device (consumers refuse
    /// envelopes whose ids are not), harmless if a client names a device the same, because
    /// history and stream queries never touch a cursor.
    static let device = "parley.api"

    /// `object[field]`, a user id, or the system user when absent.
    private func actor(_ object: [String: Any], field: String) throws -> String {
        guard let value = object[field] else { return systemUser }
        guard let user = value as? String, Identifier.isValid(user) else {
            throw APIError.badRequest("\(field) must be 1-64 characters of A-Z a-z 0-9 _ . -")
        }
        return user
    }

    /// `object` read as the client frame `type`, with the frame's own validation.
    private func frame(_ type: String, _ object: [String: Any]) throws -> ClientFrame {
        var fields = object
        fields["type"] = type
        fields["from"] = nil
        fields["by"] = nil
        guard let data = try? JSONSerialization.data(withJSONObject: fields) else { throw APIError.badRequest("expected a JSON object") }
        do {
            return try ClientFrame.decode(Array(data), limits: edge.configuration.limits)
        } catch {
            throw APIError(error)
        }
    }

    private func group(_ action: GroupOperation.Action, conv: String, by: String, clientID: String?, title: String? = nil,
                       members: [String]) async throws -> Response {
        let (op, ts) = Self.newID()
        let id = clientID ?? op
        let operation = GroupOperation(op: op, action: action, conv: conv, by: by, id: id, title: title, members: members, ts: ts)
        try await produce(InboundEnvelope(group: operation, edge: edge.id, session: APIAnswers.idPrefix + "group"), what: "the group change")
        return try Self.json(.accepted, GroupAccepted(conv: conv, op: op, id: id, by: by))
    }

    private func produce(_ envelope: InboundEnvelope, what: String) async throws {
        try await produced(what) { done in edge.publisher.publishSend(envelope, completion: done) }
    }

    /// Runs `publish` with a completion and waits for it; 503 when the broker refused.
    private func produced(_ what: String, _ publish: (@escaping EdgePublisher.Completion) -> Void) async throws {
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<Void, any Error>, Never>) in
            publish { done.resume(returning: $0) }
        }
        if case .failure(let error) = result { throw APIError.unavailable(what, underlying: error) }
    }

    /// A query to offline-svc under a request id of its own; its `error` answer becomes the HTTP refusal.
    private func queryOffline(_ query: QueryEnvelope) async throws -> DeliverEnvelope {
        let answer = try await ask("offline-svc") { id in
            var query = query
            query.session = id
            edge.publisher.publishQuery(query) { result in
                if case .failure = result { edge.answers.cancel(id) }
            }
        }
        if let error = answer.error { throw APIError(error) }
        return answer
    }

    /// Sends a question under a new request id and waits for its answer (504 after ``answerTimeout``).
    private func ask(_ whom: String, _ send: (String) -> Void) async throws -> DeliverEnvelope {
        let id = edge.answers.open()
        send(id)
        guard let answer = await edge.answers.answer(id, timeout: Self.answerTimeout) else { throw APIError.timeout(whom) }
        return answer
    }

    private static func newID() -> (msg: String, ts: UInt64) {
        let msg = MessageID.make()
        return (msg, MessageID.unixMilliseconds(of: msg) ?? UnixTime.nowMilliseconds)
    }

    private static func number(_ text: String, _ name: String) throws -> Int {
        guard let value = Int(text), value >= 0 else { throw APIError.badRequest("\(name) must be a whole number") }
        return value
    }

    private static func json(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }

    private static func wire(_ value: some WireObject) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: Envelope.encode(value))))
    }
}

/// The answer to an accepted publish.
struct Accepted: Encodable {
    let msg: String
    let conv: String
    let ts: UInt64
    let id: String
    let from: String
}

/// The answer to an accepted group change.
struct GroupAccepted: Encodable {
    let conv: String
    let op: String
    let id: String
    let by: String
}

/// The answer to a disconnect: how many edges' topics got it.
struct Disconnected: Encodable {
    let user: String
    let edges: Int
}
