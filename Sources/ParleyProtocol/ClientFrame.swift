/// A frame a client sends to ws-edge: `{"type":"<case>", <the body's fields>}`, read and then
/// validated against ``ProtocolLimits`` by the body's ``WireTable``. A new frame is a body
/// type with its table, a case here and its entry in `types`.
public enum ClientFrame: Sendable, Equatable {
    /// `{"type":"send","id":"<client id>","to":"bob"|"conv":"<conv>","body":"hi"}`
    case send(Send)
    /// `{"type":"ack","seq":<n>}`, or v1's `{"type":"ack","msgs":["<msg id>",…]}`
    case ack(Ack)
    /// `{"type":"read","conv":"<conv>","cseq":<n>}`
    case read(Read)
    /// `{"type":"sync","after":<seq>,"epoch":"…"}`
    case sync(Sync)
    /// `{"type":"history","conv":"<conv>","before":<cseq>?,"limit":50}`
    case history(History)
    /// `{"type":"conversations","limit":50,"next":"…"?}`
    case conversations(Conversations)
    /// `{"type":"ping"}`
    case ping
    /// `{"type":"watch","users":["bob",…]}`: replaces the session's presence watch list.
    case watch(Watch)
    /// `{"type":"group_create","id":"<client id>","title":"…","members":["bob",…]}`
    case groupCreate(GroupCreate)
    /// `{"type":"group_add","conv":"g:…","members":[…],"id"?}` (admins only)
    case groupAdd(GroupChange)
    /// `{"type":"group_remove","conv":"g:…","members":[…],"id"?}` (admins only)
    case groupRemove(GroupChange)
    /// `{"type":"group_leave","conv":"g:…","id"?}`
    case groupLeave(GroupLeave)
    /// `{"type":"members","conv":"g:…","next"?}`
    case members(Members)
    /// `{"type":"typing","conv":"<conv>"}`: ephemeral, forwarded to the other members online.
    case typing(Typing)
    /// `{"type":"block","user":"bob","id"?}`
    case block(Block)
    /// `{"type":"unblock","user":"bob","id"?}`
    case unblock(Block)

    public struct Send: Sendable, Equatable {
        /// The client's id for this send (retries reuse it; `sent` and `receipt` carry it).
        public var id: String
        /// The recipient of a direct message (v1), or nil when `conv` names the conversation.
        public var to: String?
        public var conv: String?
        public var body: String

        public init(id: String, to: String? = nil, conv: String? = nil, body: String) {
            self.id = id
            self.to = to
            self.conv = conv
            self.body = body
        }
    }

    /// Either `seq` (v2: every entry up to it) or `msgs` (v1: these messages).
    public struct Ack: Sendable, Equatable {
        public var seq: UInt64?
        public var msgs: [String]?

        public init(seq: UInt64? = nil, msgs: [String]? = nil) {
            self.seq = seq
            self.msgs = msgs
        }
    }

    public struct Read: Sendable, Equatable {
        public var conv: String
        public var cseq: UInt64

        public init(conv: String, cseq: UInt64) {
            self.conv = conv
            self.cseq = cseq
        }
    }

    public struct Sync: Sendable, Equatable {
        public var after: UInt64
        public var epoch: String?

        public init(after: UInt64, epoch: String?) {
            self.after = after
            self.epoch = epoch
        }
    }

    public struct History: Sendable, Equatable {
        public var conv: String
        /// Messages below this `cseq`; nil for the newest page.
        public var before: UInt64?
        public var limit: Int

        public init(conv: String, before: UInt64? = nil, limit: Int = 50) {
            self.conv = conv
            self.before = before
            self.limit = limit
        }
    }

    public struct Conversations: Sendable, Equatable {
        public var limit: Int
        public var next: String?

        public init(limit: Int = 50, next: String? = nil) {
            self.limit = limit
            self.next = next
        }
    }

    public struct Watch: Sendable, Equatable {
        public var users: [String]

        public init(users: [String]) { self.users = users }
    }

    /// Decodes and validates one text frame. Unknown fields are ignored. A frame that is not
    /// JSON is a `bad_request`; then, in this order, a missing or unknown `type`, a missing or
    /// mistyped field, a duplicate key, and the first field (in table order) that breaks its
    /// rule. Errors about a frame with a client `id` carry it (unless the id is what is wrong).
    public static func decode(_ text: some Collection<UInt8>, limits: ProtocolLimits) throws(ProtocolError) -> ClientFrame {
        guard text.count <= limits.maxFrameBytes else {
            throw ProtocolError(.tooLarge, "frame is larger than \(limits.maxFrameBytes) bytes")
        }
        var frame: Result<ClientFrame, ProtocolError>?
        do {
            try JSONReader.document(text) { (reader: inout JSONReader) throws(WireError) in frame = try read(&reader, limits) }
        } catch {
            throw ProtocolError(.badRequest, "frame is not a JSON object")
        }
        return try frame!.get()  // a document without a syntax error was read
    }

    /// The string `"id"` at the top level of a frame within the limits, if it has one: what an
    /// error about a frame that was not handled (one over the send rate) names, so the client
    /// knows which of its sends to try again.
    public static func clientID(of text: some Collection<UInt8>, limits: ProtocolLimits) -> String? {
        guard text.count <= limits.maxFrameBytes else { return nil }
        var id: String?
        do {
            try JSONReader.document(text) { (reader: inout JSONReader) throws(WireError) in
                try reader.enter(UInt8(ascii: "{"))
                var first = true
                while try reader.hasNext(UInt8(ascii: "}"), first: first) {
                    first = false
                    if try reader.readKey() == "id", id == nil, reader.peek() == UInt8(ascii: "\"") {
                        id = try reader.readString()
                    } else {
                        try reader.skipValue()
                    }
                }
            }
        } catch {
            return nil
        }
        return id
    }

    /// A frame type: its `"type"` and how its body is read and validated.
    private struct FrameType: Sendable {
        let name: StaticString
        let read: @Sendable (inout WireFields) -> ClientFrame?

        init<Body: WireObject>(_ name: StaticString, _ wrap: @escaping @Sendable (Body) -> ClientFrame) {
            self.name = name
            read = { fields in
                guard var body = fields.readObject(Body.wire, type: name), fields.deferred == nil else { return nil }
                fields.validate(Body.wire, &body)
                return fields.invalid == nil ? wrap(body) : nil
            }
        }
    }

    private static let types: [FrameType] = [
        FrameType("send", ClientFrame.send),
        FrameType("ack", ClientFrame.ack),
        FrameType("read", ClientFrame.read),
        FrameType("sync", ClientFrame.sync),
        FrameType("history", ClientFrame.history),
        FrameType("conversations", ClientFrame.conversations),
        FrameType("ping") { (_: NoFields) in .ping },
        FrameType("watch", ClientFrame.watch),
        FrameType("group_create", ClientFrame.groupCreate),
        FrameType("group_add", ClientFrame.groupAdd),
        FrameType("group_remove", ClientFrame.groupRemove),
        FrameType("group_leave", ClientFrame.groupLeave),
        FrameType("members", ClientFrame.members),
        FrameType("typing", ClientFrame.typing),
        FrameType("block", ClientFrame.block),
        FrameType("unblock", ClientFrame.unblock),
    ]

    /// Looks for `"type"` (and a string `"id"` before it, for errors); a known type reads the
    /// whole object again with its body's table. Only syntax errors throw.
    private static func read(_ reader: inout JSONReader, _ limits: ProtocolLimits) throws(WireError) -> Result<ClientFrame, ProtocolError> {
        let start = reader.mark
        var id: String?
        var unknownType: String?
        var typeSeen = false
        try reader.enter(UInt8(ascii: "{"))
        var first = true
        while try reader.hasNext(UInt8(ascii: "}"), first: first) {
            first = false
            let key = try reader.readKey()
            if key == "type", !typeSeen, reader.peek() == UInt8(ascii: "\"") {
                typeSeen = true
                let name = try reader.readStringKey()
                if let type = types.first(where: { name == $0.name }) {
                    reader.reset(to: start)
                    return try read(type, &reader, limits)
                }
                unknownType = name.string
            } else if key == "id", id == nil, reader.peek() == UInt8(ascii: "\"") {
                id = try reader.readString()
            } else {
                try reader.skipValue()
            }
        }
        if let unknownType {
            return .failure(ProtocolError(.unknownType, "unknown type \(String(unknownType.prefix(32)).debugDescription)", clientID: id))
        }
        return .failure(ProtocolError(.badRequest, "frame has no string \"type\"", clientID: id))
    }

    private static func read(_ type: FrameType, _ reader: inout JSONReader,
                             _ limits: ProtocolLimits) throws(WireError) -> Result<ClientFrame, ProtocolError> {
        var fields = WireFields(reading: reader, lenient: true, limits: limits)
        let frame = type.read(&fields)
        reader = fields.reader
        if let failure = fields.failure { throw failure }
        if let frame { return .success(frame) }
        if let deferred = fields.deferred {
            return .failure(ProtocolError(.badRequest, "\(type.name): \(deferred.message)", clientID: fields.clientID))
        }
        let invalid = fields.invalid ?? ProtocolError(.badRequest, "invalid \(type.name)")
        return .failure(ProtocolError(invalid.code, invalid.message, clientID: fields.clientID))
    }
}

extension ClientFrame.Send: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(id: "", body: "")) { s, f in
            f.field("id", &s.id, .clientID)
            f.field("to", &s.to, .recipient)
            f.field("conv", &s.conv, .conversation)
            f.check((s.to == nil) == (s.conv == nil) ? ProtocolError(.badRequest, "send takes one of to and conv") : nil)
            f.field("body", &s.body, .body)
        }
    }
}

extension ClientFrame.Ack: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self()) { a, f in
            f.field("seq", &a.seq, .sequence)
            f.field("msgs", &a.msgs, .messageIDs)
            f.check((a.seq == nil) == (a.msgs == nil) ? ProtocolError(.badRequest, "ack takes one of seq and msgs") : nil)
        }
    }
}

extension ClientFrame.Watch: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(users: [])) { w, f in
            f.field("users", &w.users, .watchedUsers)
        }
    }
}

extension ClientFrame.Read: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(conv: "", cseq: 0)) { r, f in
            f.field("conv", &r.conv, .conversation)
            f.field("cseq", &r.cseq, .sequence)
        }
    }
}

extension ClientFrame.Sync: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(after: 0, epoch: nil)) { s, f in
            f.field("after", &s.after, .sequence)
            f.field("epoch", &s.epoch, .epoch)
        }
    }
}

extension ClientFrame.History: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self(conv: "")) { h, f in
            f.field("conv", &h.conv, .conversation)
            f.field("before", &h.before, .sequence)
            f.field("limit", &h.limit, default: 50, .pageLimit)
        }
    }
}

extension ClientFrame.Conversations: WireObject {
    public static var wire: WireTable<Self> {
        WireTable(Self()) { c, f in
            f.field("limit", &c.limit, default: 50, .pageLimit)
            f.field("next", &c.next, .pageCursor)
        }
    }
}
