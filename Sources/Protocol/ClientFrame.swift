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

    private struct Head: Decodable {
        let type: String?
        let id: String?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try? container.decodeIfPresent(String.self, forKey: .type)
            id = try? container.decodeIfPresent(String.self, forKey: .id)
        }

        enum CodingKeys: String, CodingKey { case type, id }
    }

    private struct Send: Decodable { let id: String; let to: String; let body: String }
    private struct Ack: Decodable { let msgs: [String] }
    private struct Watch: Decodable { let users: [String] }

    /// Decodes and validates one text frame. Unknown fields are ignored.
    public static func decode(_ text: some Collection<UInt8>, limits: ProtocolLimits) throws(ProtocolError) -> ClientFrame {
        guard text.count <= limits.maxFrameBytes else {
            throw ProtocolError(.tooLarge, "frame is larger than \(limits.maxFrameBytes) bytes")
        }
        guard let head = try? JSONCoding.decode(Head.self, from: text) else {
            throw ProtocolError(.badRequest, "frame is not a JSON object")
        }
        guard let type = head.type else {
            throw ProtocolError(.badRequest, "frame has no string \"type\"", clientID: head.id)
        }
        switch type {
        case "send":
            guard let send = try? JSONCoding.decode(Send.self, from: text) else {
                throw ProtocolError(.badRequest, "send needs string fields id, to and body", clientID: head.id)
            }
            guard !send.id.isEmpty, send.id.utf8.count <= limits.maxClientIDBytes else {
                throw ProtocolError(.badRequest, "id must be 1-\(limits.maxClientIDBytes) bytes", clientID: nil)
            }
            guard UserID.isValid(send.to) else {
                throw ProtocolError(.invalidRecipient, "to must be 1-64 characters of A-Z a-z 0-9 _ . -", clientID: send.id)
            }
            guard !send.body.isEmpty else {
                throw ProtocolError(.badRequest, "body must not be empty", clientID: send.id)
            }
            guard send.body.utf8.count <= limits.maxBodyBytes else {
                throw ProtocolError(.tooLarge, "body is larger than \(limits.maxBodyBytes) bytes", clientID: send.id)
            }
            return .send(id: send.id, to: send.to, body: send.body)
        case "ack":
            guard let ack = try? JSONCoding.decode(Ack.self, from: text) else {
                throw ProtocolError(.badRequest, "ack needs msgs, an array of message ids")
            }
            guard !ack.msgs.isEmpty, ack.msgs.count <= limits.maxAckMessages else {
                throw ProtocolError(.badRequest, "ack takes 1-\(limits.maxAckMessages) message ids")
            }
            guard ack.msgs.allSatisfy(MessageID.isValid) else {
                throw ProtocolError(.badRequest, "ack has a malformed message id")
            }
            return .ack(msgs: ack.msgs)
        case "ping":
            return .ping
        case "watch":
            guard let watch = try? JSONCoding.decode(Watch.self, from: text) else {
                throw ProtocolError(.badRequest, "watch needs users, an array of user ids")
            }
            guard watch.users.count <= limits.maxWatchUsers else {
                throw ProtocolError(.tooLarge, "watch takes at most \(limits.maxWatchUsers) users")
            }
            guard watch.users.allSatisfy(UserID.isValid) else {
                throw ProtocolError(.invalidRecipient, "watch has an invalid user id")
            }
            return .watch(users: watch.users)
        default:
            throw ProtocolError(.unknownType, "unknown type \(String(type.prefix(32)).debugDescription)", clientID: head.id)
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
