/// A frame a client sends to ws-edge, validated against ``ProtocolLimits``.
public enum ClientFrame: Sendable, Equatable {
    /// `{"type":"send","id":"<client id>","to":"bob","body":"hi"}`
    case send(id: String, to: String, body: String)
    /// `{"type":"ack","msgs":["<msg id>",…]}`
    case ack(msgs: [String])
    /// `{"type":"ping"}`
    case ping
    /// `{"type":"watch","users":["bob",…]}`: replaces the session's presence watch list.
    case watch(users: [String])

    /// Every field any frame has, each nil when absent or of the wrong type, so a frame is
    /// parsed once whatever its type.
    private struct Fields: JSONReadable {
        var type: String?
        var id: String?
        var to: String?
        var body: String?
        var msgs: [String]?
        var users: [String]?

        init(json reader: inout JSONReader) throws(JSONReader.Failure) {
            try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(JSONReader.Failure) in
                if key == "type" { type = try r.readIfString() }
                else if key == "id" { id = try r.readIfString() }
                else if key == "to" { to = try r.readIfString() }
                else if key == "body" { body = try r.readIfString() }
                else if key == "msgs" { msgs = try r.readIfStringArray() }
                else if key == "users" { users = try r.readIfStringArray() }
                else { try r.skipValue() }
            }
        }
    }

    /// Decodes and validates one text frame. Unknown fields are ignored.
    public static func decode(_ text: some Collection<UInt8>, limits: ProtocolLimits) throws(ProtocolError) -> ClientFrame {
        guard text.count <= limits.maxFrameBytes else {
            throw ProtocolError(.tooLarge, "frame is larger than \(limits.maxFrameBytes) bytes")
        }
        guard let frame = try? JSONCoding.read(Fields.self, from: text) else {
            throw ProtocolError(.badRequest, "frame is not a JSON object")
        }
        guard let type = frame.type else {
            throw ProtocolError(.badRequest, "frame has no string \"type\"", clientID: frame.id)
        }
        switch type {
        case "send":
            guard let id = frame.id, let to = frame.to, let body = frame.body else {
                throw ProtocolError(.badRequest, "send needs string fields id, to and body", clientID: frame.id)
            }
            guard !id.isEmpty, id.utf8.count <= limits.maxClientIDBytes else {
                throw ProtocolError(.badRequest, "id must be 1-\(limits.maxClientIDBytes) bytes", clientID: nil)
            }
            guard UserID.isValid(to) else {
                throw ProtocolError(.invalidRecipient, "to must be 1-64 characters of A-Z a-z 0-9 _ . -", clientID: id)
            }
            guard !body.isEmpty else {
                throw ProtocolError(.badRequest, "body must not be empty", clientID: id)
            }
            guard body.utf8.count <= limits.maxBodyBytes else {
                throw ProtocolError(.tooLarge, "body is larger than \(limits.maxBodyBytes) bytes", clientID: id)
            }
            return .send(id: id, to: to, body: body)
        case "ack":
            guard let msgs = frame.msgs else {
                throw ProtocolError(.badRequest, "ack needs msgs, an array of message ids")
            }
            guard !msgs.isEmpty, msgs.count <= limits.maxAckMessages else {
                throw ProtocolError(.badRequest, "ack takes 1-\(limits.maxAckMessages) message ids")
            }
            guard msgs.allSatisfy(MessageID.isValid) else {
                throw ProtocolError(.badRequest, "ack has a malformed message id")
            }
            return .ack(msgs: msgs)
        case "ping":
            return .ping
        case "watch":
            guard let users = frame.users else {
                throw ProtocolError(.badRequest, "watch needs users, an array of user ids")
            }
            guard users.count <= limits.maxWatchUsers else {
                throw ProtocolError(.tooLarge, "watch takes at most \(limits.maxWatchUsers) users")
            }
            guard users.allSatisfy(UserID.isValid) else {
                throw ProtocolError(.invalidRecipient, "watch has an invalid user id")
            }
            return .watch(users: users)
        default:
            throw ProtocolError(.unknownType, "unknown type \(String(type.prefix(32)).debugDescription)", clientID: frame.id)
        }
    }
}

/// The original tutorial's frame on `GET /read`: `{"user":"<recipient>","msg":"<text>"}`.
public struct SeedFrame: Sendable, Equatable, Decodable {
    public let user: String
    public let msg: String

    public init(user: String, msg: String) {
        self.user = user
        self.msg = msg
    }

    public static func decode(_ text: some Collection<UInt8>, limits: ProtocolLimits) throws(ProtocolError) -> SeedFrame {
        guard text.count <= limits.maxFrameBytes else { throw ProtocolError(.tooLarge, "frame too large") }
        guard let frame = try? JSONCoding.decode(SeedFrame.self, from: text) else {
            throw ProtocolError(.badRequest, "expected {\"user\":\"<recipient>\",\"msg\":\"<text>\"}")
        }
        guard UserID.isValid(frame.user) else { throw ProtocolError(.invalidRecipient, "invalid user") }
        guard !frame.msg.isEmpty, frame.msg.utf8.count <= limits.maxBodyBytes else {
            throw ProtocolError(.tooLarge, "msg must be 1-\(limits.maxBodyBytes) bytes")
        }
        return frame
    }
}
