/// A frame ws-edge sends to a client.
public enum ServerFrame: Sendable, Equatable {
    /// The first frame of every session.
    case welcome(user: String, session: String, edge: String)
    /// The broker durably accepted the send with this client `id`.
    case sent(id: String, msg: String, ts: UInt64)
    /// A chat message for the session's user (or the user's own message from another session).
    case message(ChatMessage)
    /// The recipient acked `msg`; `id` is the sender's client id when known.
    case receipt(msg: String, by: String, id: String?)
    case pong
    case error(code: ErrorCode, message: String, id: String?)
    /// A watched user's status, `online` or `offline`.
    case presence(user: String, status: PresenceStatus.Status)

    /// The JSON text of the frame.
    public func encoded() -> [UInt8] {
        var json = JSONWriter()
        switch self {
        case .welcome(let user, let session, let edge):
            json.field("type", "welcome")
            json.field("user", user)
            json.field("session", session)
            json.field("edge", edge)
        case .sent(let id, let msg, let ts):
            json.field("type", "sent")
            json.field("id", id)
            json.field("msg", msg)
            json.field("ts", ts)
        case .message(let message):
            json.field("type", "message")
            json.field("msg", message.msg)
            json.field("from", message.from)
            json.field("to", message.to)
            json.field("body", message.body)
            json.field("ts", message.ts)
        case .receipt(let msg, let by, let id):
            json.field("type", "receipt")
            json.field("msg", msg)
            json.field("by", by)
            json.field("status", "delivered")
            json.field("id", id)
        case .pong:
            json.field("type", "pong")
        case .error(let code, let message, let id):
            json.field("type", "error")
            json.field("code", code.rawValue)
            json.field("message", message)
            json.field("id", id)
        case .presence(let user, let status):
            json.field("type", "presence")
            json.field("user", user)
            json.field("status", status.rawValue)
        }
        return json.finish()
    }

    /// The JSON text as a String.
    public var text: String { String(decoding: encoded(), as: UTF8.self) }
}
