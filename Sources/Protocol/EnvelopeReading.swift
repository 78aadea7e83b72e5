/// The hot envelopes read field by field with ``JSONReader`` (the counterpart of
/// EnvelopeJSON.swift); the envelope tests check the result equals `JSONDecoder`'s.

private typealias Failure = JSONReader.Failure

private func required<T>(_ value: T?, _ name: StaticString, _ reader: JSONReader) throws(Failure) -> T {
    guard let value else { throw reader.failure("missing \"\(name)\"") }
    return value
}

extension JSONReader {
    /// A string, or nil for `null`.
    fileprivate mutating func readOptionalString() throws(Failure) -> String? {
        readNull() ? nil : try readString()
    }
}

extension ChatMessage: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var msg: String?, from: String?, to: String?, body: String?, ts: UInt64?, id: String?
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "msg" { msg = try r.readString() }
            else if key == "from" { from = try r.readString() }
            else if key == "to" { to = try r.readString() }
            else if key == "body" { body = try r.readString() }
            else if key == "ts" { ts = try r.readUInt64() }
            else if key == "id" { id = try r.readOptionalString() }
            else { try r.skipValue() }
        }
        self.init(msg: try required(msg, "msg", reader), from: try required(from, "from", reader), to: try required(to, "to", reader),
                  body: try required(body, "body", reader), ts: try required(ts, "ts", reader), id: id)
    }
}

extension InboundEnvelope: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var v = envelopeVersion
        var message: ChatMessage?, edge: String?, session: String?
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "v" { v = try r.readInt() }
            else if key == "message" { message = try ChatMessage(json: &r) }
            else if key == "edge" { edge = try r.readString() }
            else if key == "session" { session = try r.readString() }
            else { try r.skipValue() }
        }
        self.init(message: try required(message, "message", reader), edge: try required(edge, "edge", reader),
                  session: try required(session, "session", reader))
        self.v = v
    }
}

extension InboxEnvelope: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var v = envelopeVersion
        var message: ChatMessage?, delivered: [String]?
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "v" { v = try r.readInt() }
            else if key == "message" { message = try ChatMessage(json: &r) }
            else if key == "delivered" { delivered = try r.readStringArray() }
            else { try r.skipValue() }
        }
        self.init(message: try required(message, "message", reader), delivered: try required(delivered, "delivered", reader))
        self.v = v
    }
}

extension AckedMessage: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var msg: String?, from: String?, id: String?
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "msg" { msg = try r.readString() }
            else if key == "from" { from = try r.readOptionalString() }
            else if key == "id" { id = try r.readOptionalString() }
            else { try r.skipValue() }
        }
        self.init(msg: try required(msg, "msg", reader), from: from, id: id)
    }
}

extension AckEnvelope: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var v = envelopeVersion
        var user: String?, acks: [AckedMessage]?
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "v" { v = try r.readInt() }
            else if key == "user" { user = try r.readString() }
            else if key == "acks" { acks = try r.readArray(of: AckedMessage.self) }
            else { try r.skipValue() }
        }
        self.init(user: try required(user, "user", reader), acks: try required(acks, "acks", reader))
        self.v = v
    }
}

extension AckedMessageReceipt: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var msg: String?, by: String?, id: String?
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "msg" { msg = try r.readString() }
            else if key == "by" { by = try r.readString() }
            else if key == "id" { id = try r.readOptionalString() }
            else { try r.skipValue() }
        }
        self.init(msg: try required(msg, "msg", reader), by: try required(by, "by", reader), id: id)
    }
}

extension PresenceStatus: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var user: String?, status: Status?
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "user" { user = try r.readString() }
            else if key == "status" {
                let text = try r.readString()
                guard let value = Status(rawValue: text) else { throw r.failure("unknown status \"\(text)\"") }
                status = value
            } else { try r.skipValue() }
        }
        self.init(user: try required(user, "user", reader), status: try required(status, "status", reader))
    }
}

extension DeliverEnvelope: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var v = 1
        var user: String?, sessions: [String]?, exceptSession: String?
        var messages: [ChatMessage] = [], receipts: [AckedMessageReceipt] = [], presence: [PresenceStatus] = []
        var resync = false
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "v" { v = try r.readInt() }
            else if key == "user" { user = try r.readString() }
            else if key == "sessions" { sessions = r.readNull() ? nil : try r.readStringArray() }
            else if key == "exceptSession" { exceptSession = try r.readOptionalString() }
            else if key == "messages" { messages = r.readNull() ? [] : try r.readArray(of: ChatMessage.self) }
            else if key == "receipts" { receipts = r.readNull() ? [] : try r.readArray(of: AckedMessageReceipt.self) }
            else if key == "presence" { presence = r.readNull() ? [] : try r.readArray(of: PresenceStatus.self) }
            else if key == "resync" { resync = r.readNull() ? false : try r.readBool() }
            else { try r.skipValue() }
        }
        self.init(user: try required(user, "user", reader), sessions: sessions, exceptSession: exceptSession, messages: messages,
                  receipts: receipts, presence: presence, resync: resync)
        self.v = v
    }
}

extension EnvelopeBatch: JSONReadable where Item: JSONReadable {
    init(json reader: inout JSONReader) throws(JSONReader.Failure) {
        var v = envelopeVersion
        var items: [Item]?
        try reader.readObject { (r: inout JSONReader, key: JSONReader.Key) throws(Failure) in
            if key == "v" { v = try r.readInt() }
            else if key == "items" { items = try r.readArray(of: Item.self) }
            else { try r.skipValue() }
        }
        self.init(items: try required(items, "items", reader))
        self.v = v
    }
}
